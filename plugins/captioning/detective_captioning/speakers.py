"""Speaker attribution for captions: which voice said each transcribed segment, and how to refer to voices.

The ``speakers`` observer reports speaker turns (observations of kind ``"speaker"`` with ``payload.speaker``
such as ``"S1"``); the ASR reports speech segments with their timed words (``Word``). :func:`attribute_speakers`
gives each speech segment the speaker whose turns overlap it most, and splits a segment at a word boundary
where the turn changes inside it, so a transcript turn never mixes two voices. The template captioner then names voices
"Speaker 1", "Speaker 2" … in order of first appearance, and uses :func:`speaker_reference` and
:func:`voice_facts` for the storyline and the speaker profiles.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence

from detective.evidence.words import comparable_words
from detective.models import Observation, TimeSpan, Word, join_words

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
#: a word further than this from every speaker turn keeps the speaker of its neighbouring words
NEAR_S = 0.5


def _speaker_at(turns: Sequence[Observation], start: float, end: float) -> str | None:
    """The speaker whose turns overlap ``[start, end]`` most (the nearest turn within NEAR_S if none overlaps)."""
    span = TimeSpan(start=start, end=max(start, end))
    overlap: dict[str, float] = {}
    for turn in turns:
        assert turn.span is not None
        shared = turn.span.overlap(span)
        if shared > 0:
            label = turn.payload.speaker
            overlap[label] = overlap.get(label, 0.0) + shared
    if overlap:
        return max(overlap, key=lambda k: overlap[k])
    middle = (start + end) / 2
    near = [(min(abs(t.span.start - middle), abs(t.span.end - middle)), t) for t in turns if t.span is not None]
    if near:
        gap, turn = min(near, key=lambda x: x[0])
        if gap <= NEAR_S:
            return turn.payload.speaker
    return None


def _fill(labels: list[str | None]) -> list[str | None]:
    """Words without a speaker take the speaker of the word before them (or after, at the start)."""
    out = list(labels)
    for i in range(1, len(out)):
        if out[i] is None:
            out[i] = out[i - 1]
    for i in range(len(out) - 2, -1, -1):
        if out[i] is None:
            out[i] = out[i + 1]
    return out


def _piece(obs: Observation, words: list[Word], speaker: str) -> Observation:
    text = join_words([w.word for w in words])
    span = TimeSpan(start=words[0].start, end=max(words[0].start, words[-1].end))
    # the piece is not on the evidence board itself: its parent (whose key it names) is
    split_from = obs.payload.split_from or obs.key
    payload = obs.payload.model_copy(update={"words": words, "speaker": speaker, "split_from": split_from})
    return obs.model_copy(update={"content": text, "span": span, "payload": payload})


def attribute_speakers(speech: list[Observation], turns: list[Observation]) -> list[Observation]:
    """``speech`` with ``payload.speaker`` set from the overlapping speaker ``turns``.

    A segment with word timestamps whose words fall in different speakers' turns is split at the word boundary
    into one observation per run of words of one speaker. Segments already carrying a speaker, segments no turn
    is near, and everything when there are no turns, are returned unchanged.
    """
    turns = [t for t in turns if t.span is not None and t.payload.speaker]
    if not turns:
        return speech
    out: list[Observation] = []
    for obs in speech:
        if obs.span is None or obs.payload.speaker:
            out.append(obs)
            continue
        words = obs.payload.words
        if words:
            labels = _fill([_speaker_at(turns, w.start, w.end) for w in words])
            if labels[0] is not None and len(set(labels)) > 1:
                runs = [
                    (str(label), [word for word, _ in run])
                    for label, run in itertools.groupby(zip(words, labels, strict=True), key=lambda pair: pair[1])
                ]
                for label, run in _without_instants(runs):
                    out.append(_piece(obs, run, label))
                continue
        label = _speaker_at(turns, obs.span.start, obs.span.end)
        out.append(
            obs
            if label is None
            else obs.model_copy(update={"payload": obs.payload.model_copy(update={"speaker": label})})
        )
    return out


#: Words of two segments whose timings overlap by at least this share of the shorter word are one word heard twice.
SAME_WORD_OVERLAP = 0.5


def _timed_words(obs: Observation) -> list[Word] | None:
    words = getattr(obs.payload, "words", None)
    return list(words) if words else None


def _plain_word(word: Word) -> str:
    return "".join(comparable_words(word.word, marks="all"))


def _heard_twice(word: Word, earlier: list[Word]) -> bool:
    """True when ``word`` is one of ``earlier``'s words again: the same word over the same moment."""
    a, b = word.start, word.end
    for other in earlier:
        c, d = other.start, other.end
        shared = min(b, d) - max(a, c)
        shortest = min(b - a, d - c)
        same_time = shared >= SAME_WORD_OVERLAP * shortest if shortest > 0 else c <= a <= d
        if same_time and _plain_word(word) == _plain_word(other):
            return True
    return False


def untangle(speech: list[Observation]) -> list[Observation]:
    """Speech segments whose spans no longer overlap where their words do not: one moment of speech, one segment.

    Speech recognition pads a segment's span around its words, so neighbouring segments of one conversation
    overlap (pyannote's two-person sample: "Oh, hello." runs 7.93-9.24 s and "I didn't know you were there."
    8.58-10.38 s, their words 0.14 s apart); a reader would read two voices at once, and each voice's share of
    the speech would count the overlap twice. Where two segments overlap and their timed words do not, both are
    cut back to the middle of the pause between those words. Leading words of a segment that repeat the earlier
    segment's words over the same moment (the same words heard twice, at a window's edge) are dropped, and a
    segment left with nothing is dropped. Segments whose words really overlap in time (two voices at once) and
    segments without word timings keep their spans. A changed segment names its board observation
    (``payload.split_from``), as a piece cut at a change of voice does.
    """
    ordered = sorted(speech, key=lambda o: (o.span.start, o.span.end) if o.span is not None else (-1.0, -1.0))
    out: list[Observation] = []
    for obs in ordered:
        near = [o for o in out if o.span is not None and obs.span is not None and o.span.overlap(obs.span) > 0]
        mine = _timed_words(obs)
        if not near or mine is None or any(_timed_words(o) is None for o in near):
            out.append(obs)
            continue
        assert obs.span is not None
        heard = [w for o in near for w in _timed_words(o) or []]
        kept = list(mine)
        while kept and _heard_twice(kept[0], heard):
            kept.pop(0)
        if not kept:
            continue  # every word was an earlier segment's again
        if len(kept) < len(mine):
            obs = _without_leading(obs, kept)
        previous = out[-1]
        theirs = _timed_words(previous)
        if previous.span is None or theirs is None or previous.span.overlap(obs.span) <= 0:
            out.append(obs)
            continue
        last_end, first_start = theirs[-1].end, kept[0].start
        if last_end > first_start:  # the words overlap: two voices at once, both spans stand
            out.append(obs)
            continue
        # in ms, as the storyline's segment bounds are: a turn must not start a hair before its paragraph
        cut = round(min(max((last_end + first_start) / 2, obs.span.start), previous.span.end), 3)
        if cut < previous.span.end:
            out[-1] = _respan(previous, TimeSpan(start=previous.span.start, end=max(previous.span.start, cut)))
        if cut > obs.span.start:
            obs = _respan(obs, TimeSpan(start=min(cut, obs.span.end), end=obs.span.end))
        out.append(obs)
    return out


def _respan(obs: Observation, span: TimeSpan) -> Observation:
    """``obs`` over ``span``; it names the board observation it was cut from."""
    parent = obs.payload.split_from or obs.key
    return obs.model_copy(update={"span": span, "payload": obs.payload.model_copy(update={"split_from": parent})})


def _without_leading(obs: Observation, words: list[Word]) -> Observation:
    """``obs`` holding only its last ``words``, from the first of them on; it names its board observation."""
    assert obs.span is not None
    start = min(max(obs.span.start, words[0].start), obs.span.end)
    parent = obs.payload.split_from or obs.key
    return obs.model_copy(
        update={
            "content": join_words([w.word for w in words]),
            "span": TimeSpan(start=start, end=obs.span.end),
            "payload": obs.payload.model_copy(update={"words": words, "split_from": parent}),
        }
    )


#: A run of words shorter than this (seconds) is no turn of its own: it joins the run before it (after, first).
MIN_PIECE_S = 0.1


def _without_instants(runs: list[tuple[str, list[Word]]]) -> list[tuple[str, list[Word]]]:
    """Runs of one speaker's words with the near-zero-length ones (a word the ASR timed at one instant, at a
    change of voice) folded into a neighbour, and neighbours of one speaker joined again."""
    out: list[tuple[str, list[Word]]] = []
    pending: list[Word] = []
    for label, run in runs:
        if run[-1].end - run[0].start < MIN_PIECE_S:
            if out:
                out[-1][1].extend(run)
            else:
                pending.extend(run)
            continue
        if out and out[-1][0] == label:
            out[-1][1].extend(run)
        else:
            out.append((label, pending + run))
        pending = []
    if not out:
        return [(runs[0][0], pending)] if pending else []
    return out


def speaker_reference(name: str, order: list[str], earlier: list[str]) -> str:
    """How the storyline refers to ``name`` given the speakers of the ``earlier`` segments, in time order.

    "a voice (Speaker 1)" at the start, "a second voice (Speaker 2)" when a new voice joins, "the first speaker
    again (Speaker 1)" when a voice returns after another spoke, and plain "Speaker 1" when it simply goes on.
    """
    if not name.startswith("Speaker "):  # e.g. "Unidentified speaker": speech no voice turn covers
        return f"an {name.lower()}" if name.lower().startswith("unidentified") else name.lower()
    # voices told apart are counted among themselves: speech no turn covers is no "first voice"
    order = [n for n in order if n.startswith("Speaker ")]
    earlier = [n for n in earlier if n.startswith("Speaker ")]
    rank = order.index(name)
    ordinal = ORDINALS[rank] if rank < len(ORDINALS) else f"{rank + 1}th"
    if name not in earlier:
        return f"a voice ({name})" if not earlier else f"a {ordinal} voice ({name})"
    if earlier[-1] != name:
        return f"the {ordinal} speaker again ({name})"
    return name


def voice_facts(mine: list[Observation], turns: list[Observation], total_speech: float) -> list[str]:
    """Profile facts of one voice from its speech segments and its speaker turns: share of speech, pitch, level.

    ``total_speech`` is the seconds of speech of all voices, each voice's own spans counted once (so the shares
    of all voices add up to 100%). Pitch and loudness come from the speaker turns the
    voice's segments overlap, so one voice's figures never mix with another's.
    """
    labels = {o.payload.speaker for o in mine if o.payload.speaker}
    own = [t for t in turns if t.span is not None and t.payload.speaker in labels]
    seconds = union_seconds([o.span for o in mine if o.span is not None])
    facts = []
    if total_speech > 0:
        facts.append(f"{100 * seconds / total_speech:.0f}% of the transcribed speech")
    pitched = [(t.span.duration, t.payload.pitch_hz) for t in own if t.payload.pitch_hz is not None]
    if pitched:
        median = _weighted_median(pitched)
        register = "low-pitched" if median < 140 else ("mid-pitched" if median < 220 else "high-pitched")
        facts.append(f"a {register} voice (median pitch about {median:.0f} Hz, from voice separation)")
    levels = [t.payload.loudness_db for t in own if t.payload.loudness_db is not None]
    if levels:
        facts.append(f"speaks at about {statistics.median(levels):.0f} dBFS")
    rates = [
        len(o.payload.words) / o.span.duration
        for o in mine
        if o.span is not None
        and o.span.duration > 0
        and o.payload.words is not None
        and o.payload.transcribed  # heard, not transcribed: no words to count
    ]
    if rates:
        rate = statistics.median(rates)
        pace = "fast" if rate > 3.3 else ("slow" if rate < 2.0 else "moderate")
        facts.append(f"a {pace} pace (about {rate:.1f} words/s)")
    return facts


def voice_events(obs: Observation, turns: list[Observation]) -> list[Observation]:
    """The speaker turns of ``obs``'s own speaker that overlap it (their payloads carry pitch and loudness)."""
    label = obs.payload.speaker
    if obs.span is None or not label:
        return []
    return [t for t in turns if t.span is not None and t.payload.speaker == label and t.span.overlap(obs.span) > 0]


def union_seconds(spans: Sequence[TimeSpan]) -> float:
    """Seconds covered by ``spans``, overlaps counted once (speech totals never exceed the clip)."""
    total, end = 0.0, float("-inf")
    for span in sorted(spans, key=lambda s: s.start):
        if span.end > end:
            total += span.end - max(span.start, end)
            end = span.end
    return total


def _weighted_median(pairs: list[tuple[float, float]]) -> float:
    ordered = sorted(pairs, key=lambda p: p[1])
    half = sum(w for w, _ in ordered) / 2
    acc = 0.0
    for weight, value in ordered:
        acc += weight
        if acc >= half:
            return value
    return ordered[-1][1]
