"""Storyline sentences from the ``scene`` and ``audio_tags`` observers: what a shot shows, who is visible (faces,
people), what sound is heard, and where other sources agree with them.

Kept apart from :mod:`detective_captioning.template` so the template calls it in one place per paragraph. Every
claim here is hedged ("appears to show"): the observers are classifiers, not witnesses.
"""

from __future__ import annotations

import re

from detective.models import Evidence, Observation, TimeSpan
from detective_captioning.format import clock

#: Below this an object is only something the picture "may show".
SURE_OBJECT = 0.75
#: Below this a sound is only "what sounds like" its class.
SURE_SOUND = 0.5
_PLACES = {
    "center": "in the middle of the frame",
    "top": "at the top of the frame",
    "bottom": "at the bottom of the frame",
    "left": "on the left",
    "right": "on the right",
}
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
_STOP = {"a", "an", "the", "of", "on", "in", "and", "some", "sound"}
#: Sound classes the transcript already tells, when there is one.
_SPEECH = {
    "speech",
    "narration, monologue",
    "conversation",
    "male speech, man speaking",
    "female speech, woman speaking",
}


def _place(position: str) -> str:
    if position in _PLACES:
        return _PLACES[position]
    return "at the " + position.replace("-", " ")


def _inside(obs: Observation, span: TimeSpan) -> bool:
    """True when most of ``obs`` falls in ``span`` (shot-aligned observations match their shot exactly)."""
    assert obs.span is not None
    return obs.span.overlap(span) >= 0.5 * max(1e-6, min(obs.span.duration, span.duration))


def _phrase(obs: Observation) -> str:
    """A sound tag's plain phrase ("a siren"); the content of other kinds."""
    return (obs.payload.phrase if obs.kind == "sound_tag" else None) or obs.content


#: Sampled times listed in a people sentence before "and N more".
_TIMES_LISTED = 6


def people_sentence(obs: Observation) -> str:
    """ "people are visible (the pedestrian detector finds up to three at once, in 11 of 20 sampled frames: 0:00.5,
    …)" for a ``people`` observation: the count and the times are the detector's own (it misses small, hidden
    and seated figures, so more may be there)."""
    count = obs.payload.count
    times = obs.payload.frame_times
    listed = ", ".join(clock(t) for t in times[:_TIMES_LISTED])
    more = f" and {len(times) - _TIMES_LISTED} more" if len(times) > _TIMES_LISTED else ""
    frames = obs.payload.frames
    noun = "sampled frame" if (frames or len(times)) == 1 else "sampled frames"
    of = f"in {len(times)} of {frames} {noun}" if frames else f"in {len(times)} {noun}"
    where = f"{of}: {listed}{more}" if times else of
    if count == 1:
        return f"a person is visible (found by the pedestrian detector {where})"
    return (
        f"people are visible (the pedestrian detector finds up to {_NUMBERS.get(count, str(count))} at once, {where})"
    )


def picture_sentences(evidence: Evidence, span: TimeSpan) -> list[str]:
    """What the picture appears to show over ``span``, the faces and the people seen in it (``scene``
    observations)."""
    out: list[str] = []
    for obs in evidence.by_kind("object"):
        if obs.span is None or not _inside(obs, span):
            continue
        sure = (obs.confidence or 0.0) >= SURE_OBJECT
        out.append(f"the picture {'appears to show' if sure else 'may show'} {obs.content}")
    for obs in evidence.by_kind("face"):
        if obs.span is None or not _inside(obs, span):
            continue
        count = obs.payload.count
        places = obs.payload.positions
        if count == 1:
            where = f", the face {_place(places[0])}" if places else ""
            out.append(f"one person is visible{where}")
        else:
            where = f" ({', '.join(_place(p) for p in places)})" if places else ""
            out.append(f"{_NUMBERS.get(count, str(count))} faces are visible{where}")
    for obs in evidence.by_kind("people"):
        if obs.span is not None and _inside(obs, span):
            out.append(people_sentence(obs))
    return out


def unnamed_shots_sentence(evidence: Evidence, shots: list[TimeSpan]) -> str:
    """ "What the frames show was examined (…); nothing could be named with confidence in shot 2 (0:04.1–0:06.5)"
    for the shots a successful ``scene`` run looked at and named nothing and no face in; ``""`` when there are none.

    The classifier withholds its unsure guesses; this says that it looked, so the silence is not read as a gap."""
    looked = [c for c in evidence.coverage if c.ok and "objects" in c.aspects]
    if not looked:
        return ""
    named = [o for o in evidence.observations if o.kind in ("object", "face", "people") and o.span is not None]
    empty: list[tuple[int, TimeSpan]] = []
    for number, shot in enumerate(shots, start=1):
        seen = any(c.span is None or c.span.overlap(shot) >= 0.5 * max(shot.duration, 1e-6) for c in looked)
        if seen and not any(_inside(o, shot) for o in named):
            empty.append((number, shot))
    if not empty:
        return ""
    how = "; ".join(dict.fromkeys(c.detail for c in looked if c.detail))
    listed = [f"{n} ({clock(s.start)}–{clock(s.end)})" for n, s in empty[:6]]
    more = f" and {len(empty) - 6} more" if len(empty) > 6 else ""
    which = ", ".join(listed) + more
    word = "shot" if len(empty) == 1 else "shots"
    return (
        f"What the frames show was examined{f' ({how})' if how else ''}; nothing in the picture could be named with "
        f"confidence in {word} {which}"
    )


#: Measured sound events a class never names: what is absent is not a sound.
_UNNAMED_EVENTS = {"silence", "background"}


def _label(obs: Observation) -> str:
    """A sound event's label (its content when it has none)."""
    return (obs.payload.label or obs.content).strip().lower()


def _same_sound(tag: Observation, event: Observation) -> bool:
    """True when a sound class and a measured event cover mostly the same time (half of the shorter one)."""
    assert tag.span is not None and event.span is not None
    return tag.span.overlap(event.span) >= 0.5 * max(1e-6, min(tag.span.duration, event.span.duration))


def _is_speech(tag: Observation) -> bool:
    return (tag.payload.sound_class or tag.content).lower() in _SPEECH


def _is_silence(tag: Observation) -> bool:
    """AudioSet's "Silence" class: an absence, which only a measurement (``audio_events``) may state."""
    return (tag.payload.sound_class or tag.content).strip().lower() == "silence"


def event_tags(evidence: Evidence, event: Observation) -> list[Observation]:
    """The sound classes (``audio_tags``) that name a measured sound event (``audio_events``), surest first.

    A class over most of an event names that event: the caption says it in the event's sentence, with the
    event's measured times, instead of in a sentence of its own with the classifier's coarser ones."""
    if event.span is None or _label(event) in _UNNAMED_EVENTS:
        return []
    tags = [
        t
        for t in evidence.by_kind("sound_tag")
        if t.span is not None and not _is_speech(t) and not _is_silence(t) and _same_sound(t, event)
    ]
    return sorted(tags, key=lambda t: -(t.confidence or 0.0))


def naming_clause(tags: list[Observation]) -> str:
    """``", which the sound classifier takes for a beep"`` (hedged below :data:`SURE_SOUND`), or ``""``."""
    if not tags:
        return ""
    best, rest = tags[0], [_phrase(t) for t in tags[1:] if _phrase(t) != _phrase(tags[0])]
    verb = "takes for" if (best.confidence or 0.0) >= SURE_SOUND else "suggests may be"
    also = f" (or possibly {', '.join(dict.fromkeys(rest))})" if rest else ""
    return f", which the sound classifier {verb} {_phrase(best)}{also}"


#: Measured labels that only say a sound is there: a class that names the sound replaces them.
GENERIC_EVENTS = {"sound", "music-like"}


def named_event_sentence(event: Observation, tags: list[Observation], level: str) -> str:
    """A measured sound whose label only says it is there (:data:`GENERIC_EVENTS`), told by the class that names
    it, at the measured times: "a siren is heard from 0:02.2 to 0:04.8 at about -11 dBFS (named by the sound
    classifier)"; hedged below :data:`SURE_SOUND`."""
    assert event.span is not None and tags
    a, b = clock(event.span.start), clock(event.span.end)
    best = tags[0]
    rest = [_phrase(t) for t in tags[1:] if _phrase(t) != _phrase(best)]
    also = f", or possibly {', '.join(dict.fromkeys(rest))}" if rest else ""
    if (best.confidence or 0.0) >= SURE_SOUND:
        return f"{_phrase(best)} is heard from {a} to {b}{level} (named by the sound classifier{also})"
    return f"what sounds like {_phrase(best)} is heard from {a} to {b}{level} (the sound classifier's guess{also})"


#: Reports of one sound class this close (seconds) are one sound: music the tagger loses for a second under a
#: voice goes on (measured on the corpus's music-on-hold under a phone prompt, tests/fixtures/make_real_corpus.py).
RUN_GAP = 2.0


def _named_events(evidence: Evidence) -> list[Observation]:
    """Measured sound events a class may name: not absences, and not speech (the transcript tells speech)."""
    return [
        e
        for e in evidence.by_kind("sound_event")
        if e.span is not None and _label(e) not in _UNNAMED_EVENTS and _label(e) != "speech-like"
    ]


def tag_runs(evidence: Evidence) -> list[list[Observation]]:
    """Sound classes (``audio_tags``) grouped into runs: reports of one class apart by :data:`RUN_GAP` or less."""
    runs: list[list[Observation]] = []
    tags = [t for t in evidence.by_kind("sound_tag") if t.span is not None and not _is_silence(t)]
    for tag in sorted(tags, key=lambda t: (_phrase(t), t.span.start if t.span else 0.0)):
        assert tag.span is not None
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and last.span is not None
            and _phrase(last) == _phrase(tag)
            and tag.span.start - last.span.end <= RUN_GAP
        ):
            runs[-1].append(tag)
        else:
            runs.append([tag])
    return sorted(runs, key=lambda r: r[0].span.start if r[0].span else 0.0)


def _run_span(run: list[Observation]) -> TimeSpan:
    return TimeSpan(start=min(t.span.start for t in run if t.span), end=max(t.span.end for t in run if t.span))


def _told_with_events(run: list[Observation], events: list[Observation]) -> bool:
    """True when the run names measured events that make up most of it: the events' sentences tell it. A run
    far longer than what it names (music on under a voice after the intro the event analysis caught) is not."""
    span = _run_span(run)
    named = [e for e in events if e.span is not None and any(_same_sound(t, e) for t in run)]
    covered = sum(e.span.overlap(span) for e in named if e.span is not None)
    return bool(named) and span.duration <= 2 * covered + 2.0


def told_runs(evidence: Evidence) -> set[str]:
    """Keys of the sound classes told by a sentence of their own (a run longer than the events it names)."""
    events = _named_events(evidence)
    return {
        t.key
        for run in tag_runs(evidence)
        if not _is_speech(run[0]) and not _told_with_events(run, events)
        for t in run
    }


def sound_sentences(evidence: Evidence, span: TimeSpan, last: bool = False) -> list[str]:
    """The named sounds (``audio_tags``, one sentence per run of one class) that start in ``span`` (or after it,
    for the last segment) and that the measured sound events they name do not already tell (those are said in
    the event's sentence: :func:`event_tags`). Music under a voice is told over its whole run."""
    speech = [o for o in evidence.by_kind("speech") if o.span is not None]
    events = _named_events(evidence)
    out: list[str] = []
    for run in tag_runs(evidence):
        whole = _run_span(run)
        if whole.start < span.start or (whole.start >= span.end and not last):
            continue
        if _is_speech(run[0]):
            if any(s.span is not None and s.span.overlap(whole) > 0 for s in speech):
                continue  # the transcript tells it
        elif _told_with_events(run, events):
            continue  # a class over a measured event is told with the event
        a, b = clock(whole.start), clock(whole.end)
        phrase = _phrase(run[0])
        under = any(s.span is not None and s.span.overlap(whole) > 0 for s in speech) and not _is_speech(run[0])
        voice = ", under the speech" if under else ""
        if max(t.confidence or 0.0 for t in run) >= SURE_SOUND:
            out.append(f"{phrase} is heard from {a} to {b}{voice}")
        else:
            out.append(f"what sounds like {phrase} is heard from {a} to {b}{voice}")
    return out


def scene_sentences(evidence: Evidence, span: TimeSpan, last: bool = False) -> list[str]:
    """All sentences of this module for one storyline segment: picture first, then sounds."""
    return picture_sentences(evidence, span) + sound_sentences(evidence, span, last)


def _keys(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP and len(w) > 2}


def agreement_notes(evidence: Evidence) -> list[str]:
    """One line per classifier claim that another source (OCR, ASR, an LLM observer) also names, if any."""
    notes: list[str] = []
    others = [o for o in evidence.observations if o.kind in {"text", "speech", "description"}]
    for obs in evidence.by_kind("object") + evidence.by_kind("sound_tag"):
        if obs.span is None:
            continue
        keys = _keys(_phrase(obs)) | _keys((obs.payload.sound_class if obs.kind == "sound_tag" else None) or "")
        for other in others:
            if other.tool == obs.tool or (other.span is not None and not other.span.overlaps(obs.span, 0.5)):
                continue
            shared = keys & _keys(other.content)
            if shared:
                notes.append(
                    f"{other.tool} also mentions “{sorted(shared)[0]}” where {obs.tool} reports {_phrase(obs)} "
                    f"({clock(obs.span.start)}–{clock(obs.span.end)})."
                )
                break
    return notes
