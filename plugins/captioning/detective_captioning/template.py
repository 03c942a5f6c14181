"""The template captioner: writes the caption from the evidence alone, offline and deterministically.

Nothing is said that no observation reports, and absence only where a covering observer ran and succeeded
(:mod:`detective.evidence.coverage`). The storyline has one paragraph per shot (per stretch of audio activity for
sound-only clips) blending what was heard and seen then; the Visible Text section lists the OCR tracks in reading
order with their look; the transcript lists the ASR segments with a speaking state measured from the audio
features. Speech is written as the core's cross-check engine settled it
(:func:`detective.evidence.crosscheck.cross_check`):
names repaired from the screen, doubtful words marked ``[unclear]``, speech over measured silence left out. An LLM
observer's answer is never pasted: each of its clauses is stated once, in the segment it belongs to, as the
observer's report (naming the local observers that confirm it), and clauses the local evidence contradicts are
left out and listed under Cross-checks (:mod:`detective.evidence.claims`). Every sentence, text item and turn carries
the keys of the observations it rests on.
"""

from __future__ import annotations

import difflib
import itertools
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from detective.captioning import Captioner, CaptionJob, CaptionOutput
from detective.evidence import claims, coverage
from detective.evidence.crosscheck import CrossCheck, cross_check, uncovered
from detective.models import (
    Caption,
    CaptionSection,
    Evidence,
    GroundedSentence,
    MediaInfo,
    Observation,
    SpeakerProfile,
    StorylineSegment,
    TextElement,
    TimeSpan,
    TranscriptSegment,
    VisibleTextSpan,
    plain_words,
)
from detective_captioning.format import clock, render
from detective_captioning.options import TemplateOptions
from detective_captioning.scene import (
    GENERIC_EVENTS,
    agreement_notes,
    event_tags,
    named_event_sentence,
    naming_clause,
    scene_sentences,
    told_runs,
    unnamed_shots_sentence,
)
from detective_captioning.speakers import (
    attribute_speakers,
    speaker_reference,
    union_seconds,
    untangle,
    voice_events,
    voice_facts,
)

#: Pieces of a cluster shorter than this (seconds) are folded into a neighbour.
MIN_SEGMENT = 0.5
#: Audio clusters longer than this are split at speech and event starts.
LONG_SEGMENT = 10.0
#: Stretches without any audio observation longer than this (seconds) get their own storyline segment.
AUDIO_GAP = 1.0
#: At most this many storyline segments; the shortest neighbours are merged beyond it.
MAX_SEGMENTS = 80
#: Text tracks whose start and end differ by less than this share a Visible Text group.
GROUP_TOLERANCE = 0.25
#: What is left of a measured silence once the sounds over it are cut out is told only from this length on.
MIN_SILENCE = 0.5
#: Words of speech quoted in the storyline before it is cut with an ellipsis.
QUOTE_WORDS = 14

_LANGUAGES = {
    "en": "English",
    "zh": "Chinese",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "ja": "Japanese",
    "ko": "Korean",
    "ru": "Russian",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ar": "Arabic",
    "hi": "Hindi",
}
_ADVERBS = {
    "very loud": "very loudly",
    "loud": "loudly",
    "moderately loud": "at moderate volume",
    "quiet": "quietly",
    "very quiet": "very quietly",
}
_POSITIONS = {
    "top-left": "in the top-left corner",
    "top": "along the top of the frame",
    "top-right": "in the top-right corner",
    "left": "on the left side of the frame",
    "center": "in the centre of the frame",
    "centre": "in the centre of the frame",
    "right": "on the right side of the frame",
    "bottom-left": "in the bottom-left corner",
    "bottom": "along the bottom of the frame",
    "bottom-right": "in the bottom-right corner",
}


# --- small wording helpers --------------------------------------------------------------------------------


def loudness_word(db: float) -> str:
    """A plain-language loudness for a dBFS RMS level."""
    if db >= -12:
        return "very loud"
    if db >= -20:
        return "loud"
    if db >= -30:
        return "moderately loud"
    if db >= -45:
        return "quiet"
    return "very quiet"


def _seconds(value: float) -> str:
    text = f"{value:.1f}"
    return f"{text} second" if text == "1.0" else f"{text} seconds"


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] in '”"':
        return text if len(text) > 1 and text[-2] in ".!?…" else text + "."
    return text if text[-1] in ".!?…" else text + "."


def _short_quote(text: str, words: int = QUOTE_WORDS) -> str:
    parts = text.split()
    if len(parts) <= words:
        return " ".join(parts)
    return " ".join(parts[:words]).rstrip(",;:") + " …"


def _start(obs: Observation) -> float:
    return obs.span.start if obs.span is not None else 0.0


def _count(n: int) -> str:
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    return words[n] if 0 <= n < len(words) else str(n)


def _pick(options: Sequence[str], seed: int) -> str:
    return options[seed % len(options)]


def _label(obs: Observation) -> str:
    """A sound event's label (its content when it has none)."""
    return (obs.payload.label or obs.content).strip().lower()


def _clamp(span: TimeSpan, duration: float) -> TimeSpan:
    if duration <= 0:
        return span
    start = min(max(0.0, span.start), duration)
    end = min(max(start, span.end), duration)
    return TimeSpan(start=round(start, 3), end=round(end, 3))


def _same_thing(a: Observation, b: Observation) -> bool:
    """Two reports of one thing: same tool and kind, nearly the same span and nearly the same words."""
    if a.tool != b.tool or a.kind != b.kind or a.span is None or b.span is None:
        return False
    shortest = min(a.span.duration, b.span.duration)
    if a.span.overlap(b.span) < 0.8 * shortest or (shortest == 0 and abs(a.span.start - b.span.start) > 0.05):
        return False
    if a.kind == "sound_event":
        return _label(a) == _label(b)
    return difflib.SequenceMatcher(None, plain_words(a.content), plain_words(b.content)).ratio() >= 0.9


def _distinct(observations: list[Observation]) -> list[Observation]:
    """Fold repeated reports (a re-check that heard "… dog" and "… dog." again): the surest one stays."""
    kept: list[Observation] = []
    for obs in sorted(observations, key=lambda o: (-(o.confidence or 0.0), -len(o.content))):
        if not any(_same_thing(obs, k) for k in kept):
            kept.append(obs)
    return sorted(kept, key=lambda o: o.span.start if o.span else -1.0)


# --- segmentation ----------------------------------------------------------------------------------------


@dataclass
class _Segment:
    span: TimeSpan
    shot: Observation | None = None
    items: list[Observation] = field(default_factory=list)  # observations that start here
    carried: list[Observation] = field(default_factory=list)  # observations that started earlier


def _shot_segments(shots: list[Observation], duration: float) -> list[_Segment]:
    segments: list[_Segment] = []
    cursor = 0.0
    for shot in shots:
        assert shot.span is not None
        span = _clamp(shot.span, duration)
        if span.start - cursor > 0.3:
            segments.append(_Segment(TimeSpan(start=cursor, end=span.start)))
        segments.append(_Segment(span, shot=shot))
        cursor = max(cursor, span.end)
    if duration - cursor > 0.3:
        segments.append(_Segment(TimeSpan(start=round(cursor, 3), end=round(duration, 3))))
    return segments


def _audio_segments(spanned: list[Observation], speech: list[Observation], duration: float) -> list[_Segment]:
    """Clusters of overlapping audio observations, long ones split at their starts, gaps as their own pieces."""
    spans = sorted((_clamp(o.span, duration) for o in spanned if o.span is not None), key=lambda s: s.start)
    # speech segments cut back to the pause between their words (speakers.untangle) touch: one run of talk
    talk = {_clamp(o.span, duration) for o in speech if o.span is not None}
    clusters: list[list[float]] = []
    last: TimeSpan | None = None
    for span in spans:
        touching = last is not None and last in talk and span in talk and span.start <= clusters[-1][1] + 0.05
        if clusters and (span.start < clusters[-1][1] - 0.05 or touching):
            clusters[-1][1] = max(clusters[-1][1], span.end)
        else:
            clusters.append([span.start, span.end])
        last = span
    pieces: list[list[float]] = []
    cursor = 0.0
    for start, end in clusters:
        if start - cursor > AUDIO_GAP:
            pieces.append([cursor, start])
        elif pieces:
            pieces[-1][1] = start
        else:
            start = cursor  # a short lead-in joins the first piece, so the storyline starts at 0
        start = max(start, cursor)
        if end <= start:
            continue
        if end - start > LONG_SEGMENT:
            inside = [s for s in spans if start <= s.start < end]
            cuts = sorted({round(s.start, 3) for s in inside if s.start - start >= 1.5 and end - s.start >= 1.5})
            # Never cut through a sentence.
            cuts = [c for c in cuts if not any(o.span and o.span.start + 0.05 < c < o.span.end - 0.05 for o in speech)]
            # Paragraphs of half a long segment at least: sentences that follow each other are not cut one by one.
            kept: list[float] = []
            for cut in cuts:
                if cut - (kept[-1] if kept else start) >= LONG_SEGMENT / 2:
                    kept.append(cut)
            bounds = [start, *kept, end]
            pieces.extend([a, b] for a, b in itertools.pairwise(bounds) if b > a)
        else:
            pieces.append([start, end])
        cursor = max(cursor, end)
    if duration - cursor > AUDIO_GAP:
        pieces.append([cursor, duration])
    elif pieces:
        pieces[-1][1] = max(pieces[-1][1], duration)
    if not pieces:
        pieces = [[0.0, duration]]
    # Fold short pieces into the previous one (the next one for the first piece).
    merged: list[list[float]] = []
    for piece in pieces:
        if merged and (piece[1] - piece[0] < MIN_SEGMENT or merged[-1][1] - merged[-1][0] < MIN_SEGMENT):
            merged[-1][1] = max(merged[-1][1], piece[1])
        else:
            merged.append(piece)
    while len(merged) > MAX_SEGMENTS:
        i = min(range(len(merged) - 1), key=lambda k: merged[k + 1][1] - merged[k][0])
        merged[i] = [merged[i][0], merged[i + 1][1]]
        del merged[i + 1]
    return [_Segment(TimeSpan(start=round(a, 3), end=round(b, 3))) for a, b in merged]


def _assign(segments: list[_Segment], observations: list[Observation]) -> None:
    """Each observation goes to the segment where it starts; segments it runs on into get it as carried."""
    for obs in observations:
        if obs.span is None:
            continue
        t = obs.span.start
        home = next(
            (i for i, s in enumerate(segments) if s.span.start <= t < s.span.end),
            None,
        )
        if home is None:
            home = min(
                range(len(segments)),
                key=lambda i: min(abs(segments[i].span.start - t), abs(segments[i].span.end - t)),
            )
        segments[home].items.append(obs)
        for seg in segments[home + 1 :]:
            if seg.span.start >= obs.span.end:
                break
            if obs.span.overlap(seg.span) >= 0.5:
                seg.carried.append(obs)


# --- the captioner ---------------------------------------------------------------------------------------


@dataclass
class _Voices:
    """Speaker names for the speech observations and per-speaker facts."""

    names: dict[str, str]  # observation key -> speaker name
    order: list[str]
    separated: bool


def _voices(speech: list[Observation]) -> _Voices:
    labels = [o.payload.speaker for o in speech if o.payload.speaker]
    separated = bool(labels)
    mapping: dict[str, str] = {}
    for label in labels:
        if label not in mapping:
            mapping[label] = f"Speaker {len(mapping) + 1}"
    names: dict[str, str] = {}
    for obs in speech:
        label = obs.payload.speaker
        if label:
            names[obs.key] = mapping[label]
        else:
            names[obs.key] = "Speaker 1" if len(mapping) <= 1 else "Unidentified speaker"
    order: list[str] = []
    for obs in speech:
        if names[obs.key] not in order:
            order.append(names[obs.key])
    return _Voices(names=names, order=order, separated=separated)


class TemplateCaptioner(Captioner):
    """Writes the structured caption from the evidence alone: offline, deterministic, no invention."""

    name = "template"
    needs_api = False
    options_model = TemplateOptions

    async def caption(self, job: CaptionJob) -> CaptionOutput:
        """Write the caption for ``job`` from its evidence."""
        caption = build_caption(job.media, job.evidence, job.checks, job.settled)
        return CaptionOutput(caption=caption, markdown=render(caption, kind=job.media.kind))


def build_caption(
    media: MediaInfo,
    evidence: Evidence,
    checks: CrossCheck | None = None,
    settled: list[claims.Settled] | None = None,
) -> Caption:
    """The template caption of ``media`` from ``evidence`` (the work of :class:`TemplateCaptioner`); ``checks`` and
    ``settled`` are the board's cross-check and LLM clause verdicts when the caller has them (a ``CaptionJob``)."""
    check = checks or cross_check(evidence)
    return _Writer(media, evidence, check, claims.settle(evidence) if settled is None else settled).caption()


class _Writer:
    def __init__(self, media: MediaInfo, evidence: Evidence, check: CrossCheck, settled: list[claims.Settled]) -> None:
        self.media = media
        self.evidence = evidence
        self.check = check
        self.settled = settled
        spans = [o.span.end for o in evidence.observations if o.span is not None]
        self.duration = media.duration if media.duration > 0 else max(spans, default=0.0)
        by_kind = lambda kind: _distinct(  # noqa: E731
            [o for o in evidence.by_kind(kind) if o.span is not None and o.key not in check.rejected]
        )
        self.shots = by_kind("shot")
        self.texts = by_kind("text")
        self.turns = by_kind("speaker")
        self.speech = attribute_speakers(untangle(by_kind("speech")), self.turns)
        self.events = self._heard_silences(by_kind("sound_event"), by_kind("sound_tag"))
        self.descriptions = evidence.by_kind("description")
        self.by_key = {o.key: o for o in evidence.observations}
        self.scene = [o for o in evidence.observations if o.kind in ("object", "face", "people", "sound_tag")]
        self.metadata = evidence.by_kind("metadata")
        self.voices = _voices(self.speech)
        self.video = media.has_video
        self.whole = TimeSpan(start=0.0, end=max(self.duration, 0.0))
        self.usual = self._usual_manner()
        self.told_runs = told_runs(evidence)

    # -- helpers --

    def _heard_silences(self, events: list[Observation], tags: list[Observation]) -> list[Observation]:
        """The sound events with each silence cut back to where no observer hears anything.

        A silence is measured at the noise floor; a voice, a speaker turn, another sound event or a sound class
        over part of it means that part was not silent (the "Hello." a quiet conversation opens with, a click in
        a long pause). What is left of a silence, in pieces of half a second or more, is kept; each piece names
        the measured silence it came from (``split_from``), which is on the board."""
        heard = [
            o.span
            for o in [*self.speech, *self.turns, *events, *tags]
            if o.span is not None
            and not (o.kind == "sound_event" and _label(o) in ("silence", "background"))
            and not (o.kind == "sound_tag" and (o.payload.sound_class or o.content).strip().lower() == "silence")
        ]
        out: list[Observation] = []
        for obs in events:
            if _label(obs) != "silence" or obs.span is None:
                out.append(obs)
                continue
            pieces = uncovered(obs.span, heard)
            if pieces == [obs.span]:
                out.append(obs)
                continue
            for piece in pieces:
                if piece.duration >= MIN_SILENCE:
                    span = TimeSpan(start=round(piece.start, 3), end=round(piece.end, 3))
                    payload = obs.payload.model_copy(update={"split_from": obs.key})
                    out.append(obs.model_copy(update={"span": span, "payload": payload}))
        return sorted(out, key=_start)

    def said(self, obs: Observation) -> str:
        """The speech content as the cross-check settled it (names repaired, doubtful words marked)."""
        return self.check.said(obs)

    def sources_of(self, obs: Observation) -> list[str]:
        """Keys of the board observations a speech turn rests on: its own (its parent's, for a piece of a segment
        cut at a change of voice) and those of the sources that repaired it."""
        key = obs.payload.split_from or obs.key
        said = self.said(obs)
        repaired = (r.source.key for r in self.check.repairs if r.speech.key == key and r.chosen in said)
        return [key, *dict.fromkeys(repaired)]

    def examined(self, aspect: str, span: TimeSpan | None = None) -> bool:
        """True when a successful observer run examined ``aspect`` over ``span`` (the whole clip by default)."""
        return coverage.examined(self.evidence, aspect, span or self.whole)

    def _usual_manner(self) -> tuple[str | None, str | None]:
        """The most common loudness word and pace over the speech: only departures from them are worth saying."""
        louds, paces = Counter(), Counter()
        for obs in self.speech:
            assert obs.span is not None
            state = _speech_state(obs, self.speech_events(obs.span))
            if state.loudness is not None:
                louds[loudness_word(state.loudness)] += 1
            if state.pace:
                paces[state.pace] += 1
        return (
            louds.most_common(1)[0][0] if louds else None,
            paces.most_common(1)[0][0] if paces else None,
        )

    def speech_events(self, span: TimeSpan) -> list[Observation]:
        return [
            e for e in self.events if _label(e) == "speech-like" and e.span is not None and e.span.overlap(span) > 0
        ]

    def covered_by_speech(self, event: Observation) -> bool:
        """True when transcribed speech or the voice separation's turns cover 30% of ``event`` or more."""
        assert event.span is not None
        voiced = [o.span for o in [*self.speech, *self.turns] if o.span is not None]
        clipped = [
            TimeSpan(start=max(s.start, event.span.start), end=min(s.end, event.span.end))
            for s in voiced
            if s.overlap(event.span) > 0
        ]
        heard = union_seconds(clipped)
        return heard >= 0.3 * max(event.span.duration, 1e-6)

    # -- sections --

    def caption(self) -> Caption:
        segments = self.segments()
        wordy = self.texts + self.speech + self.events
        _assign(segments, sorted(wordy, key=lambda o: o.span.start if o.span else 0.0))
        self.reports = self.llm_reports(segments)
        storyline = []
        for i, seg in enumerate(segments):
            sentences = self.paragraph(i, seg, len(segments))
            storyline.append(
                StorylineSegment(span=seg.span, text=" ".join(s.text for s in sentences), sentences=sentences)
            )
        speakers, transcript = self.transcript()
        sections = [CaptionSection(title="Overview", body=self.overview())]
        cross = "\n".join([self.check.report(), *agreement_notes(self.evidence)]).strip()
        if cross:
            sections.append(CaptionSection(title="Cross-checks", body=cross))
        visible = self.visible_text() if self.video else None
        return Caption(
            storyline=storyline,
            visible_text=visible,
            speakers=speakers,
            transcript=transcript,
            sections=sections,
            no_text=self.no_text() if visible == [] else None,
            no_speech=None if transcript else self.no_speech(),
        )

    def no_text(self) -> str:
        """What the Visible Text section says when it lists nothing: how text was looked for, or that it was not."""
        if self.examined("text"):
            return f"No on-screen text was read ({coverage.how(self.evidence, 'text')})."
        if coverage.runs(self.evidence, "text"):
            return "On-screen text was examined over only part of the video, and none was read there."
        return "On-screen text was not examined (no OCR observer ran)."

    def music_unjudged(self) -> str:
        """Where no sound classifier examined the audio and nothing named music: that music was not judged.

        The signal analysis (``audio_events``) names music only where a clearly harmonic run moves between held
        notes with no voice over it; on the corpus's five real music-on-hold recordings (asterisk-moh-opsound,
        tests/fixtures/make_real_corpus.py) it names none, so its silence on music rules nothing out. Only a
        run covering ``sound_classes`` (the ``audio_tags`` observer) does."""
        if not self.media.has_audio or self.examined("sound_classes"):
            return ""
        named = any(_label(e) == "music-like" for e in self.events) or any(
            "music" in (o.payload.phrase or o.content).lower() for o in self.evidence.by_kind("sound_tag")
        )
        if named or not (self.speech or any(_label(e) not in ("silence", "background") for e in self.events)):
            return ""
        return (
            "Whether music plays could not be judged: no sound classifier examined the audio, and the signal "
            "analysis does not tell music under or between other sounds"
        )

    def no_speech(self) -> str:
        """What the transcript says when it holds no turn."""
        what = "video" if self.video else "audio"
        if not self.media.has_audio:
            return f"The {what} has no audio track, so there is no speech."
        if self.examined("speech"):
            return f"No speech was transcribed ({coverage.how(self.evidence, 'speech')})."
        if coverage.runs(self.evidence, "speech"):
            return "Speech was examined over only part of the clip, and none was transcribed there."
        return "Speech was not examined (no speech recognition observer ran)."

    def segments(self) -> list[_Segment]:
        if self.video and self.shots:
            return _shot_segments(self.shots, self.duration)
        return _audio_segments(self.events + self.speech, self.speech, self.duration)

    def paragraph(self, index: int, seg: _Segment, total: int) -> list[GroundedSentence]:
        parts: list[tuple[str, list[Observation]]] = []
        opening = self.opening(index, seg, total)
        if opening:
            parts.append((opening, [seg.shot] if seg.shot is not None else []))
        for item in self.reports.get(index, []):
            parts.append((claim_sentence(item), [*item.sources, *(self.by_key[r.a] for r in item.support)]))
        seen = [o for o in self.scene if o.span is not None and o.span.overlaps(seg.span)]
        parts.extend((sentence, seen) for sentence in scene_sentences(self.evidence, seg.span, last=index == total - 1))
        parts.extend(self.carried_sentences(seg))
        # Everything else in the order it happened; texts appearing together are told together.
        group: list[Observation] = []
        seed = index
        for obs in sorted((o for o in seg.items if o.kind != "description"), key=_start):
            if obs.kind == "text" and group and _start(obs) - _start(group[0]) <= 0.3:
                group.append(obs)
                continue
            if group:
                parts.append((self.text_sentence(group, seed), group))
                seed += 1
                group = []
            if obs.kind == "text":
                group = [obs]
            elif obs.kind == "speech":
                parts.append((self.speech_sentence(obs, seed), [obs]))
                seed += 1
            elif obs.kind == "sound_event":
                first = not self.video and index == 0 and _start(obs) <= seg.span.start + 0.05
                tags = event_tags(self.evidence, obs)
                if tags and _label(obs) in GENERIC_EVENTS and all(t.key in self.told_runs for t in tags):
                    continue  # the sound class's own sentence tells it over its whole run
                if tags and _label(obs) in GENERIC_EVENTS:
                    sentence = named_event_sentence(obs, tags, self.event_level(obs))
                else:
                    sentence = self.event_sentence(obs, seed, first)
                    sentence = sentence + naming_clause(tags) if sentence else ""
                if sentence:
                    parts.append((sentence, [obs, *tags]))
                    seed += 1
        if group:
            parts.append((self.text_sentence(group, seed), group))
        if len(parts) <= (1 if opening else 0):
            parts.append(self.nothing_sentence(seg))
        out: list[GroundedSentence] = []
        for text, sources in parts:
            sentence = _sentence(text)
            if sentence and all(sentence != o.text for o in out):  # never the same sentence twice
                keys = (o.payload.split_from or o.key for o in sources)  # a turn's piece: its segment
                out.append(GroundedSentence(text=sentence, sources=list(dict.fromkeys(keys))))
        return out

    def opening(self, index: int, seg: _Segment, total: int) -> str:
        if seg.shot is not None:
            shot_index = seg.shot.payload.index
            number = (shot_index if shot_index is not None else index) + 1
            length = _seconds(seg.span.duration)
            if index == 0:
                extra = " and the only one" if total == 1 else ""
                return f"The video opens on its first shot{extra}, which holds for {length}"
            return _pick(
                [
                    f"At {clock(seg.span.start)} a cut brings in shot {number}, which lasts {length}",
                    f"A cut at {clock(seg.span.start)} moves to shot {number}, on screen for {length}",
                    f"Shot {number} begins at {clock(seg.span.start)} and runs for {length}",
                ],
                index,
            )
        if self.video and self.shots:
            return f"Between {clock(seg.span.start)} and {clock(seg.span.end)} the shot detector reported no shot"
        return ""

    def llm_reports(self, segments: list[_Segment]) -> dict[int, list[claims.Settled]]:
        """The LLM answers' clauses that stand, each once, under the segment where it happens (the clause's own
        time, else the start of the answer's span); clauses the local evidence contradicts are left out (the
        Cross-checks section lists them)."""
        placed: dict[int, list[claims.Settled]] = {}
        for item in self.settled:
            if item.status == "contradicted":
                continue
            t = item.span.start if item.span is not None else 0.0
            home = next((i for i, seg in enumerate(segments) if seg.span.start <= t < seg.span.end), len(segments) - 1)
            placed.setdefault(max(0, home), []).append(item)
        return placed

    def text_sentence(self, group: list[Observation], seed: int) -> str:
        group = _reading_order(group)
        first = group[0]
        assert first.span is not None
        at = clock(first.span.start)
        if len(group) > 1:
            parts = [f"“{o.content}” {_where(o)}{_look(o)}" for o in group]
            listed = ", ".join(parts[:-1]) + f" and {parts[-1]}"
            return f"At {at}, {_count(len(group))} lines of text appear together: {listed}"
        look, where, until = _look(first), _where(first), clock(first.span.end)
        return _pick(
            [
                f"At {at} the text “{first.content}” appears {where}{look}, staying until {until}",
                f"“{first.content}” comes up on screen at {at}{look}, {where}, and remains until {until}",
                f"From {at} to {until} on-screen text reading “{first.content}” is shown {where}{look}",
            ],
            seed,
        )

    def speech_sentence(self, obs: Observation, seed: int) -> str:
        assert obs.span is not None
        quote = _short_quote(self.said(obs)).rstrip(".,;:")
        name = self.voices.names[obs.key]
        many = len(self.voices.order) > 1
        who = name if many else "a voice"
        if many:
            earlier = [self.voices.names[s.key] for s in sorted(self.speech, key=_start) if _start(s) < _start(obs)]
            who = speaker_reference(name, self.voices.order, earlier)
        if not many and any(
            s.span is not None and s.span.start < obs.span.start for s in self.speech if s.key != obs.key
        ):
            who = "the same voice"
        a, b = clock(obs.span.start), clock(obs.span.end)
        manner = self.manner(obs)
        lead = f", speaking {manner}" if manner else ""
        if not _transcribed(obs):
            language = _LANGUAGES.get(obs.payload.language, "") if obs.payload.language else ""
            tongue = f" in {language}" if language else ""
            return f"{who} speaks{tongue} from {a} to {b}{lead}, but the words were not transcribed"
        return _pick(
            [
                f"{who} says “{quote}” ({a}–{b}){lead}",
                f"from {a} to {b} {who} can be heard saying “{quote}”{lead}",
                f"at {a} {who} speaks{' ' + manner if manner else ''}: “{quote}”",
            ],
            seed,
        )

    def manner(self, obs: Observation) -> str:
        """A short speaking-manner phrase for the storyline, only where loudness or pace departs from the usual."""
        assert obs.span is not None
        state = _speech_state(obs, self.speech_events(obs.span))
        usual_loudness, usual_pace = self.usual
        bits = []
        if state.loudness is not None and (len(self.speech) == 1 or loudness_word(state.loudness) != usual_loudness):
            bits.append(_ADVERBS[loudness_word(state.loudness)])
        if state.pace and (len(self.speech) == 1 or state.pace != usual_pace):
            bits.append(f"at a {state.pace} pace")
        return " and ".join(bits)

    def event_sentence(self, obs: Observation, seed: int, opens: bool) -> str:
        assert obs.span is not None
        label = _label(obs)
        a, b = clock(obs.span.start), clock(obs.span.end)
        db = obs.payload.loudness_db
        level = f" at about {db:.0f} dBFS" if db is not None else ""
        lead = "the recording opens with" if opens else ""
        if label == "silence":
            if opens:
                return f"The recording opens with {_seconds(obs.span.duration)} of silence ({a}–{b})"
            return _pick(
                [
                    f"the sound drops to silence from {a} to {b}",
                    f"there is silence between {a} and {b}",
                    f"from {a} to {b} the audio is silent",
                ],
                seed,
            )
        if label == "tone":
            freq = obs.payload.frequency_hz
            pitch = f"{freq:.0f} Hz " if freq is not None else ""
            loud = f", {loudness_word(db)}{level}" if db is not None else ""
            if opens:
                return f"{lead} a steady {pitch}tone from {a} to {b}{loud}"
            return _pick(
                [
                    f"a steady {pitch}tone sounds from {a} to {b}{loud}",
                    f"at {a} a pure {pitch}tone starts and holds until {b}{loud}",
                ],
                seed,
            )
        if label == "broadband noise":
            loud = f"{loudness_word(db)} " if db is not None else ""
            length = f"{obs.span.duration:.1f}-second"
            kind = "burst" if obs.span.duration <= 2.0 else "stretch"
            if opens:
                return f"{lead} a {length} {kind} of {loud}broadband noise{level}"
            return _pick(
                [
                    f"a {loud}{kind} of broadband noise hits at {a} and lasts {_seconds(obs.span.duration)}{level}",
                    f"at {a} a {length} {kind} of {loud}broadband noise cuts in{level}",
                ],
                seed,
            )
        if label == "background":
            floor = obs.payload.noise_floor_db or db
            level = f" (about {floor:.0f} dBFS)" if floor is not None else ""
            if obs.span.start < 0.05:
                return f"until {b} only a low background sound is heard{level}"
            return _pick(
                [
                    f"from {a} to {b} only a low background sound is heard{level}",
                    f"from {a} to {b} the foreground sound stops, leaving a low background{level}",
                ],
                seed,
            )
        if label == "speech-like":
            if self.covered_by_speech(obs):
                return ""
            return f"speech-like sound is heard from {a} to {b}{level}, though no words were transcribed there"
        if label == "music-like":
            return f"music-like sound plays from {a} to {b}{level}"
        peak = obs.payload.peak_db
        peak_text = f" (peak {peak:.0f} dBFS)" if peak is not None else level
        name = obs.content if obs.content and obs.content.lower() != label else label
        if label == "sound":
            if self.covered_by_speech(obs):
                return ""  # the voice the transcript or the voice separation already tells
            return f"an unclassified sound occurs from {a} to {b}{peak_text}"
        return f"a sound the audio analysis labels “{name}” occurs from {a} to {b}{peak_text}"

    def event_level(self, obs: Observation) -> str:
        """`` at about -11 dBFS`` (or the peak, or nothing): how loud a measured sound event is."""
        db, peak = obs.payload.loudness_db, obs.payload.peak_db
        if db is not None:
            return f" at about {db:.0f} dBFS"
        return f" (peak {peak:.0f} dBFS)" if peak is not None else ""

    def carried_sentences(self, seg: _Segment) -> list[tuple[str, list[Observation]]]:
        out: list[tuple[str, list[Observation]]] = []
        texts = _reading_order([o for o in seg.carried if o.kind == "text"])
        if texts:
            quoted = " and ".join(f"“{o.content}”" for o in texts[:4])
            verb = "is" if len(texts) == 1 else "are"
            out.append((f"{quoted} {verb} still on screen", texts[:4]))
        speech = [o for o in seg.carried if o.kind == "speech" and o.span is not None]
        if speech:
            until = clock(max(o.span.end for o in speech if o.span is not None))
            out.append((f"speech begun before {clock(seg.span.start)} carries on until {until}", speech))
        for obs in seg.carried:
            assert obs.span is not None
            until = clock(obs.span.end)
            if obs.kind != "sound_event":
                continue
            label = _label(obs)
            if label == "tone":
                freq = obs.payload.frequency_hz
                pitch = f"{freq:.0f} Hz " if freq is not None else ""
                out.append((f"the {pitch}tone from the previous stretch continues until {until}", [obs]))
            elif label == "silence":
                out.append((f"the silence lasts until {until}", [obs]))
            elif label == "background":
                out.append((f"the quiet background continues until {until}", [obs]))
            elif label in ("speech-like", "sound") and self.covered_by_speech(obs):
                continue
            else:
                out.append((f"the {label} continues until {until}", [obs]))
        return out

    def nothing_sentence(self, seg: _Segment) -> tuple[str, list[Observation]]:
        """What a stretch without findings says: only what examined it found nothing; the rest was not examined."""
        span = seg.span
        found_nothing, not_examined = [], []
        checks = [("speech", "no speech was transcribed"), ("sound", "no sound event was measured")]
        if self.video:
            checks.append(("text", "no on-screen text was read"))
        for aspect, phrase in checks:
            if aspect in ("speech", "sound") and not self.media.has_audio:
                continue
            if self.examined(aspect, span):
                found_nothing.append(phrase)
            else:
                not_examined.append(coverage.ASPECT_WORDS[aspect])
        bits = []
        if found_nothing:
            bits.append(" and ".join(found_nothing) + f" between {clock(span.start)} and {clock(span.end)}")
        if self.video and not self.media.has_audio:
            bits.append("the file has no audio track")
        if not_examined:
            bits.append(f"{' and '.join(not_examined)} {'was' if len(not_examined) == 1 else 'were'} not examined here")
        return "; ".join(bits), []

    def visible_text(self) -> list[VisibleTextSpan]:
        groups: list[tuple[TimeSpan, list[Observation]]] = []
        for obs in sorted(self.texts, key=lambda o: (o.span.start, o.span.end)):  # type: ignore[union-attr]
            assert obs.span is not None
            span = _clamp(obs.span, self.duration)
            for i, (gspan, members) in enumerate(groups):
                if abs(gspan.start - span.start) <= GROUP_TOLERANCE and abs(gspan.end - span.end) <= GROUP_TOLERANCE:
                    members.append(obs)
                    groups[i] = (TimeSpan(start=gspan.start, end=max(gspan.end, span.end)), members)
                    break
            else:
                groups.append((span, [obs]))
        return [
            VisibleTextSpan(
                span=span,
                elements=[
                    TextElement(text=o.content, appearance=_appearance(o), sources=[o.key])
                    for o in _reading_order(group)
                ],
            )
            for span, group in groups
        ]

    def transcript(self) -> tuple[list[SpeakerProfile], list[TranscriptSegment]]:
        turns = []
        for obs in self.speech:
            assert obs.span is not None
            state = _speech_state(obs, voice_events(obs, self.turns) or self.speech_events(obs.span))
            turns.append(
                TranscriptSegment(
                    span=_clamp(obs.span, self.duration),
                    speaker=self.voices.names[obs.key],
                    state=state.describe(),
                    content=self.said(obs),
                    sources=self.sources_of(obs),
                )
            )
        profiles = [SpeakerProfile(name=name, profile=self.profile(name)) for name in self.voices.order]
        return profiles, turns

    def profile(self, name: str) -> str:
        mine = [o for o in self.speech if self.voices.names[o.key] == name]
        seconds = union_seconds([o.span for o in mine if o.span is not None])  # overlapping segments once
        turns = len(mine)
        words = sum(len(self.said(o).split()) for o in mine if _transcribed(o))
        bits = [f"{turns} turn{'s' if turns != 1 else ''}, {seconds:.1f} s and about {words} words of speech"]
        bits.extend(_language_facts(mine))
        # each voice's seconds once: the shares of all voices add up to 100%, whoever else spoke at the same time
        everyone = sum(
            union_seconds([o.span for o in self.speech if o.span is not None and self.voices.names[o.key] == voice])
            for voice in self.voices.order
        )
        voiced = voice_facts(mine, self.turns, everyone)
        bits.extend(voiced)
        pitches = [
            e.payload.pitch_hz
            for o in mine
            if o.span is not None
            for e in self.speech_events(o.span)
            if e.payload.pitch_hz is not None
        ]
        if self.turns:
            pitches = []  # voices are separated: the clip-wide speech pitch would mix them
        if pitches:
            median = statistics.median(pitches)
            register = "low-pitched" if median < 140 else ("mid-pitched" if median < 220 else "high-pitched")
            bits.append(f"a {register} voice (median pitch about {median:.0f} Hz)")
        if not self.voices.separated:
            where = " whether on screen or as a voice-over," if self.video else ""
            bits.append(f"all speech is attributed to one speaker{where} since no voice separation was available")
        bits.append("accent not established by the observers")
        return "; ".join(bits)

    def overview(self) -> str:
        media, sentences = self.media, []
        what = "video" if self.video else "audio clip"
        sentence = f"This {what} lasts {_seconds(self.duration)}"
        if self.video:
            details = []
            if media.width and media.height:
                details.append(f"{media.width}×{media.height}")
            if media.fps:
                details.append(f"{media.fps:.3g} fps")
            if details:
                sentence += f" ({', '.join(details)})"
            if self.shots:
                sentence += f" and consists of {len(self.shots)} shot{'s' if len(self.shots) != 1 else ''}"
        sentences.append(sentence)
        if not media.has_audio:
            sentences.append("The file has no audio track")
        else:
            sentences.extend(self.audio_overview())
        if self.video:
            distinct = len({" ".join(o.content.split()).lower() for o in self.texts})
            if distinct:
                sentences.append(
                    f"{distinct} distinct line{'s' if distinct != 1 else ''} of on-screen text "
                    f"{'were' if distinct != 1 else 'was'} read"
                )
            else:
                sentences.append(self.no_text())
        if self.video and self.shots:
            unnamed = unnamed_shots_sentence(self.evidence, [s.span for s in self.shots if s.span is not None])
            if unnamed:
                sentences.append(unnamed)
        unjudged = self.music_unjudged()
        if unjudged:
            sentences.append(unjudged)
        damaged = coverage.undecoded_sentence(self.evidence)
        if damaged:
            sentences.append(damaged)
        tools = sorted({c.tool for c in self.evidence.coverage if c.ok} | {o.tool for o in self.evidence.observations})
        if tools:
            listed = ", ".join(tools[:-1]) + (" and " if len(tools) > 1 else "") + tools[-1]
            sentences.append(f"Observers consulted: {listed}")
        return " ".join(_sentence(s) for s in sentences)

    def audio_overview(self) -> list[str]:
        """Loudness and silence from audio analysis, one speech share (from ASR when it ran), or what was not done."""
        sentences = []
        meta = next((m for m in self.metadata if m.payload.loudness_db is not None), None)
        parts = []
        if meta is not None and meta.payload.loudness_db is not None:
            db = meta.payload.loudness_db
            parts.append(f"the overall loudness is {db:.1f} dBFS ({loudness_word(db)})")
        if meta is not None and meta.payload.silence_ratio is not None:
            silent, floor = meta.payload.silence_ratio, meta.payload.noise_floor_db
            if silent < 0.005 and floor is not None and floor > -60:
                parts.append(f"a background noise floor of about {floor:.0f} dBFS runs under it, with no true silence")
            else:
                parts.append(f"true silence fills about {100 * silent:.0f}% of it")
        if self.speech:
            spoken = union_seconds([o.span for o in self.speech if o.span is not None])
            share = 100 * spoken / self.duration if self.duration else 0.0
            words = sum(len(self.said(o).replace("[unclear]", " ").split()) for o in self.speech if _transcribed(o))
            if parts:
                sentences.append("Audio analysis finds that " + ", and ".join(parts))
            written = [o for o in self.speech if _transcribed(o)]
            if written:
                sentences.append(
                    f"Speech recognition transcribed {len(written)} segment{'s' if len(written) != 1 else ''} "
                    f"({words} words, {spoken:.1f} s, speech in about {share:.0f}% of the running time)"
                )
            else:
                sentences.append(
                    f"Speech recognition heard speech for {spoken:.1f} s (about {share:.0f}% of the running time)"
                )
            untold = len(self.speech) - len(written)
            if untold:
                sentences.append(
                    f"{untold} segment{'s' if untold != 1 else ''} of speech {'were' if untold != 1 else 'was'} "
                    "heard but left untranscribed, since the recogniser could not transcribe "
                    f"{'them' if untold != 1 else 'it'} reliably"
                )
            voices = [n for n in self.voices.order if n.startswith("Speaker ")]
            if self.voices.separated and voices:  # the count in words: "two speakers"
                plural = "s" if len(voices) != 1 else ""
                sentences.append(f"Voice separation finds {_count(len(voices))} speaker{plural}")
            return sentences
        if meta is not None and meta.payload.speech_ratio is not None and not self.examined("speech"):
            parts.append(f"speech-like sound fills about {100 * meta.payload.speech_ratio:.0f}% of it")
        if parts:
            sentences.append("Audio analysis finds that " + ", and ".join(parts))
        elif not self.examined("sound"):
            sentences.append("The sound level was not analysed")
        sentences.append(self.no_speech())
        return sentences


def _transcribed(obs: Observation) -> bool:
    """False for speech an observer heard but could not transcribe reliably (``payload.transcribed`` False)."""
    return obs.payload.transcribed


def _language_facts(mine: list[Observation]) -> list[str]:
    """What a speaker's turns say about language, honestly: the language and its probability only where a model
    that tells languages apart named it; otherwise which model examined the speech and what it could not do."""
    bits: list[str] = []
    named = Counter(o.payload.language for o in mine if o.payload.language)
    for code, _ in named.most_common():
        probs = [
            o.payload.language_probability
            for o in mine
            if o.payload.language == code and o.payload.language_probability is not None
        ]
        model = next((o.payload.language_model for o in mine if o.payload.language_model), "")
        told = f"identified by {model}" if model else "identified"
        told += f" with probability {max(probs):.2f}" if probs else ""
        bits.append(f"speaks {_LANGUAGES.get(code, code)} ({told})")
    unnamed = [o for o in mine if not o.payload.language]
    if unnamed:
        note = next((o.payload.language_note for o in unnamed if o.payload.language_note), "")
        model = next((o.payload.language_model for o in unnamed if o.payload.language_model), "")
        probs = [o.payload.language_probability for o in unnamed if o.payload.language_probability is not None]
        if note:
            bits.append(f"language {note}")
        elif model and probs:
            which = "of these turns " if named else ""
            bits.append(
                f"the language {which}was not identified with confidence ({model}: best guess at probability "
                f"{max(probs):.2f})"
            )
    untold = [o for o in mine if not _transcribed(o)]
    if untold:
        seconds = sum(o.span.duration for o in untold if o.span is not None)
        model = next((o.payload.model for o in untold if o.payload.model), "the speech recogniser")
        count = len(untold)
        bits.append(
            f"{count} turn{'s' if count != 1 else ''} ({seconds:.1f} s) left untranscribed: {model} could not "
            "transcribe them reliably"
        )
    return bits


#: How the template names an LLM observer and the local observers that confirm its claims.
_OBSERVERS = {"vision_llm": "the vision model", "audio_llm": "the audio model"}
_CONFIRMERS = {
    "asr": "speech recognition",
    "speakers": "voice separation",
    "audio_events": "audio analysis",
    "audio_tags": "the sound classifier",
    "ocr": "OCR",
    "scene": "the scene classifier",
}
_OPENERS = {"a", "an", "the", "there", "it", "one", "two", "some", "no", "this", "that", "someone", "later", "then"}


def claim_sentence(item: claims.Settled) -> str:
    """One clause of the LLM answers as the caption states it: as the observer's report, with the local observers
    that confirm it named; never the answer pasted whole, never twice."""
    names = list(dict.fromkeys(_OBSERVERS.get(o.tool, f"the {o.tool} observer") for o in item.sources))
    if len(names) == 2 and all(n.endswith(" model") for n in names):
        who, verb = f"{names[0].removesuffix(' model')} and {names[1].removeprefix('the ')}s", "report"
    else:
        who, verb = " and ".join(names), "reports" if len(names) == 1 else "report"
    models = list(dict.fromkeys(o.payload.model for o in item.sources if o.kind == "description" and o.payload.model))
    if models:
        who += f" ({', '.join(models)})"
    clause = " ".join(item.clause.split()).rstrip(" .;,")
    first = clause.split(" ", 1)[0]
    if first.lower() in _OPENERS and not (first.isupper() and len(first) > 1):
        clause = first.lower() + clause[len(first) :]
    if item.status == "confirmed":
        by = list(dict.fromkeys(_CONFIRMERS.get(r.tools[0], r.tools[0]) for r in item.support))
        listed = ", ".join(by[:-1]) + (" and " if len(by) > 1 else "") + by[-1]
        return f"{who} {verb}: {clause}, which {listed} confirm{'s' if len(by) == 1 else ''}"
    return f"{who} {verb}: {clause}; no other observer confirms it"


# --- text appearance and speaking state -------------------------------------------------------------------


def _reading_order(texts: list[Observation]) -> list[Observation]:
    """On-screen text lines as a reader meets them: top to bottom (lines within 2% of the height share a row),
    then left to right. Lines without a box keep their order."""

    def key(obs: Observation) -> tuple[float, float]:
        box = obs.payload.box
        if box is not None:
            return (round(box[1] / 0.02), box[0])
        return (float("inf"), 0.0)

    return sorted(texts, key=key)


def _size(obs: Observation) -> str:
    frac = obs.payload.height_frac
    if frac is None:
        return ""
    return "large" if frac >= 0.1 else ("medium-sized" if frac >= 0.05 else "small")


def _look(obs: Observation) -> str:
    """`` in large white letters on a black background`` (only the parts observed)."""
    size, color, bg = _size(obs), obs.payload.color, obs.payload.background
    words = " ".join(w for w in (size, color or "") if w)
    text = f" in {words} letters" if words else ""
    if bg:
        text += f" on {_a(bg)} {bg} background"
    return text


def _a(word: str) -> str:
    """The indefinite article for ``word``."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _where(obs: Observation) -> str:
    pos = (obs.payload.position or "").lower()
    return _POSITIONS.get(pos, "on screen")


def _appearance(obs: Observation) -> str:
    parts = []
    size, color, bg = _size(obs), obs.payload.color, obs.payload.background
    head = " ".join(w for w in (size, color or "") if w)
    parts.append(f"{head} text" if head else "text")
    if bg:
        parts[-1] += f" on {_a(bg)} {bg} background"
    parts[-1] += f" {_where(obs)}"
    frac = obs.payload.height_frac
    if frac is not None:
        parts.append(f"about {100 * frac:.0f}% of the frame height")
    if obs.confidence is not None and obs.confidence < 0.9:
        parts.append(f"read with confidence {obs.confidence:.2f}")
    text = ", ".join(parts)
    return text[0].upper() + text[1:]


#: The share of a measurement's span that must fall within a speech segment for it to describe that segment.
_LOCAL = 0.5


@dataclass
class _State:
    loudness: float | None = None
    pace: str | None = None
    rate: float | None = None
    pitch: float | None = None
    confidence: float | None = None
    #: Set when nothing was measured within the segment and its level, pace and pitch are those of a measurement
    #: over this wider span (the segment with the speech around it): said so, never passed off as its own.
    over: TimeSpan | None = None

    def describe(self) -> str:
        bits = []
        if self.loudness is not None:
            bits.append(f"{loudness_word(self.loudness)} (about {self.loudness:.0f} dBFS)")
        if self.pace or self.rate is not None:
            rate = f" ({self.rate:.1f} words/s)" if self.rate is not None else ""
            bits.append(f"{self.pace or 'measured'} pace{rate}")
        if self.pitch is not None:
            bits.append(f"pitch around {self.pitch:.0f} Hz")
        if not bits:
            return "Speaking state not measured by the observers"
        text = ", ".join(bits)
        if self.over is not None:
            text += f", measured over {clock(self.over.start)}–{clock(self.over.end)} with the speech around it"
        return text[0].upper() + text[1:]


def _pace_from_rate(rate: float) -> str:
    return "fast" if rate > 3.3 else ("slow" if rate < 2.0 else "moderate")


def _speech_state(obs: Observation, events: list[Observation]) -> _State:
    """How ``obs``'s speech was spoken, from the measurements of ``events`` made mostly within its span: a speaker
    turn or a sound event that runs far beyond the segment (one diarised turn under six sentences, one speech-like
    event over the whole clip) measured other speech, so its level, pace and pitch are the speaker's or the clip's
    (said in the speaker profile and the overview), not this segment's."""
    assert obs.span is not None
    around = [(e, e.span) for e in events if e.span is not None]
    local = [e for e, span in around if span.overlap(obs.span) >= _LOCAL * span.duration]
    state = _measured_state(obs, local)
    if around and not local and state.rate is None:
        # nothing of the segment's own: the measurement around it, said as such ("Goodbye." after a sentence)
        state = _measured_state(obs, [e for e, _ in around])
        state.over = TimeSpan(start=min(s.start for _, s in around), end=max(s.end for _, s in around))
    return state


#: Fewer words than this give no speaking rate: one or two words' timing says nothing of a pace.
_RATE_WORDS = 3


def _measured_state(obs: Observation, events: list[Observation]) -> _State:
    """:func:`_speech_state` from ``events`` as given, and the segment's own words' rate."""
    assert obs.span is not None
    state = _State(confidence=obs.confidence)
    weighted = [
        (e.span.overlap(obs.span), e.payload.loudness_db)
        for e in events
        if e.span is not None and e.payload.loudness_db is not None
    ]
    total = sum(w for w, _ in weighted)
    if total > 0:
        state.loudness = sum(w * db for w, db in weighted if db is not None) / total
    paces = Counter(e.payload.pace for e in events if e.kind == "sound_event" and e.payload.pace)
    if paces:
        state.pace = paces.most_common(1)[0][0]
    pitches = [e.payload.pitch_hz for e in events if e.payload.pitch_hz is not None]
    if pitches:
        state.pitch = statistics.median(pitches)
    words = obs.payload.words
    count = len(words) if words else len(obs.content.split())
    if not _transcribed(obs):
        pass  # no words were written: no speaking rate either
    elif count >= _RATE_WORDS and obs.span.duration > 0:
        state.rate = count / obs.span.duration
    if state.pace is None and state.rate is not None:
        state.pace = _pace_from_rate(state.rate)
    return state
