"""Grounding: how much of a caption rests on what the observers reported, and is not contradicted.

A caption's *claims* are the words it quotes, the names and numbers its prose states about the clip, the things it
names (a dog, a piano, a door, a woman: :data:`CONTENT_NOUNS`), the silences it states with their times and the
speakers it numbers. A claim is grounded when an observation supports it: a quoted word, name, number or noun
appears in an observation that no other evidence contradicts (an LLM observer's clause that the local evidence
contradicts supports nothing, nor does speech set aside over measured silence), a stated silence lies in measured
silence, and "Speaker 3" needs three voices on the board. Measurements the captioner derives from spans and signal
levels (times, durations, dBFS, Hz, counts of shots or words …), provenance (tool and model names, versions) and
the Cross-checks section (which reports what the observers said, contradicted claims included) are not claims
about the clip's content and are not counted. ``RunResult.grounding`` carries the figure and the ungrounded claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from detective.evidence import claims as llm_claims
from detective.evidence.crosscheck import UNCLEAR, CrossCheck, cross_check, norm, untimed
from detective.models import Evidence, Grounding, MediaInfo, Observation, TimeSpan

_QUOTE = re.compile(r"“([^”]*)”|\"([^\"]*)\"")
_TIME = re.compile(r"\b(?:\d{1,2}:)?\d{1,3}:\d{2}(?:[.,]\d+)?\b")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?![\w])")
_NAME = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]*")
_UNITS = (
    r"\s*(?:-|‑)?\s*(?:s\b|sec|secs|seconds?|ms\b|minutes?|min\b|hours?|dBFS|dB\b|k?Hz|fps|%|percent|"
    r"words?|turns?|segments?|shots?|lines?|frames?|speakers?|observations?|times|voices?|rounds?|×|x\d|"
    r"frame/s|words/s|distinct|chars?|characters?|pixels?|px\b)"
)
_COUNTED = re.compile(rf"(?<![\w.])-?\d+(?:[.,]\d+)*(?={_UNITS})", re.IGNORECASE)
_LABELLED = re.compile(
    r"\b(?:shot|speaker|round|segment|line|confidence|probability|score|top|of|about|around)\s+-?\d+(?:[.,]\d+)*",
    re.IGNORECASE,
)
#: Capitalised words a caption uses about its own method and format, never about the clip's content.
METHOD_WORDS = {
    "speaker", "speakers", "shot", "ocr", "asr", "llm", "storyline", "visible", "text", "transcript", "overview",
    "cross-checks", "content", "state", "profiles", "dbfs", "hz", "fps", "vad", "whisper", "english", "chinese",
    "spanish", "french", "german", "japanese", "korean", "russian", "italian", "portuguese", "dutch", "arabic",
    "hindi", "i", "unclear", "a", "an", "the", "first", "second", "third", "fourth", "no", "yes",
}  # fmt: skip


#: Things a caption may name that are claims about the clip's content (lower-case nouns, unlike names): people,
#: animals, objects, specific sounds and music. Generic signal words (tone, noise, beep …) are the signal
#: analysis's own measurements and are not listed.
CONTENT_NOUNS = {
    "man", "men", "woman", "women", "girl", "boy", "child", "children", "baby", "person", "people", "crowd",
    "dog", "cat", "bird", "birds", "horse", "cow", "car", "cars", "bus", "truck", "bicycle", "motorcycle", "train",
    "airplane", "boat", "tree", "trees", "building", "house", "street", "road", "phone", "laptop", "cup", "bottle",
    "chair", "table", "door", "window", "ball", "book", "guitar", "piano", "violin", "drum", "drums", "music",
    "song", "singing", "melody", "orchestra", "knock", "bell", "bark", "applause", "clapping", "laughter",
    "footsteps", "engine", "horn", "siren", "alarm", "gunshot", "explosion", "glass", "thunder", "rain", "wind",
    "water", "cheering", "cough", "typing", "whistle", "lecture", "literature",
}  # fmt: skip
_NEGATION = re.compile(r"\b(?:no|not|none|nothing|never|without|neither|nor)\b", re.IGNORECASE)
_SILENT = re.compile(r"\bsilen(?:t|ce)\b", re.IGNORECASE)
_SPEAKER_N = re.compile(r"\bSpeaker (\d+)\b")
_VERSION = re.compile(r"\bv?\d+(?:\.\d+){2,}\w*\b")
_CLOCK = re.compile(r"\b(?:(\d{1,2}):)?(\d{1,2}):(\d{2}(?:\.\d+)?)\b")


def _supporting(
    evidence: Evidence, checks: CrossCheck, settled: list[llm_claims.Settled] | None = None
) -> list[tuple[Observation, str]]:
    """Every observation with the part of its content that other evidence does not contradict: an LLM answer
    without its contradicted clauses, and nothing of speech set aside over measured silence."""
    settled = llm_claims.settle(evidence) if settled is None else settled
    contradicted = {norm(untimed(s.clause)) for s in settled if s.status == "contradicted"}
    out = []
    for obs in evidence.observations:
        if obs.key in checks.rejected:
            continue
        content = obs.content
        if obs.kind == "description":
            kept = [c for c in llm_claims.clauses(obs.content) if norm(untimed(c)) not in contradicted]
            content = " ".join(kept)
        out.append((obs, content))
    return out


def _known_words(supporting: list[tuple[Observation, str]], evidence: Evidence, media: MediaInfo | None) -> set[str]:
    words: set[str] = set()
    for obs, content in supporting:
        words.update(norm(content).split())
        if obs.kind != "description":
            _collect(obs.payload.model_dump(), words)
    for tool in {o.tool for o in evidence.observations} | {c.tool for c in evidence.coverage}:
        words.update(norm(tool.replace("_", " ")).split())
        words.add(tool.lower())
    if media is not None:
        _collect(media.model_dump(), words)
    words.update(part for w in list(words) if "-" in w for part in w.split("-"))
    return words


def _collect(value: Any, into: set[str], depth: int = 0) -> None:
    if depth > 4:
        return
    if isinstance(value, dict):
        for v in value.values():
            _collect(v, into, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value[:500]:
            _collect(v, into, depth + 1)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int | float):
        into.add(f"{value:g}")
        into.add(str(round(value)))
    elif isinstance(value, str) and len(value) <= 2000:
        into.update(norm(value).split())


def claims(text: str) -> list[str]:
    """The word claims of ``text``: every quoted word, names and numbers of the prose (sentence openers skipped),
    and the :data:`CONTENT_NOUNS` it names outside a negation. Version numbers are provenance, not claims."""
    text = _VERSION.sub(" ", text)
    found: list[str] = []
    for m in _QUOTE.finditer(text):
        quoted = (m.group(1) if m.group(1) is not None else m.group(2)).replace(UNCLEAR, " ")
        found.extend(norm(quoted).split())
    prose = _QUOTE.sub(" ", text)
    prose = _LABELLED.sub(" ", _COUNTED.sub(" ", _TIME.sub(" ", prose)))
    for line in prose.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for sentence in re.split(r"(?<=[.!?;:])\s+|\s+[–—-]\s+|\(", line):
            tokens = sentence.split()
            for i, tok in enumerate(tokens):
                bare = tok.strip("“”\"'‘’()[],.;:!?")
                if not bare:
                    continue
                if (bare.lower() in CONTENT_NOUNS and not _NEGATION.search(sentence)) or _NUMBER.fullmatch(bare):
                    found.append(bare.lower())
                elif i > 0 and _NAME.match(bare) and norm(bare) and norm(bare) not in METHOD_WORDS:
                    found.append(norm(bare))
    return [c for c in found if c and c not in {"unclear"}]


def _seconds(match: re.Match[str]) -> float:
    return int(match.group(1) or 0) * 3600 + int(match.group(2)) * 60 + float(match.group(3))


def silence_claims(text: str) -> list[TimeSpan]:
    """The spans over which ``text`` states silence (a sentence saying silence or silent, with its times)."""
    spans = []
    for sentence in re.split(r"(?<=[.!?;])\s+", text):
        if not _SILENT.search(sentence) or _NEGATION.search(sentence):
            continue
        times = [_seconds(m) for m in _CLOCK.finditer(sentence)]
        if len(times) >= 2:
            spans.append(TimeSpan(start=min(times[:2]), end=max(times[:2])))
        elif times:
            spans.append(TimeSpan(start=times[0], end=times[0]))
    return spans


def _voices(supporting: list[tuple[Observation, str]]) -> int:
    labels = {o.payload.speaker for o, _ in supporting if o.kind in ("speech", "speaker") and o.payload.speaker}
    counted = [
        o.payload.num_speakers for o, _ in supporting if o.kind == "metadata" and o.payload.num_speakers is not None
    ]
    speech = any(o.kind == "speech" for o, _ in supporting)
    return max([len(labels), int(speech), *counted])


def _in_silence(span: TimeSpan, supporting: list[tuple[Observation, str]]) -> bool:
    silent = [
        o.span
        for o, _ in supporting
        if o.span is not None and o.kind == "sound_event" and (o.payload.label or o.content) == "silence"
    ]
    if span.duration <= 0:
        return any(s.start - 0.05 <= span.start <= s.end + 0.05 for s in silent)
    return sum(s.overlap(span) for s in silent) >= 0.5 * span.duration


def measure(
    texts: Iterable[str],
    evidence: Evidence,
    media: MediaInfo | None = None,
    checks: CrossCheck | None = None,
    settled: list[llm_claims.Settled] | None = None,
) -> Grounding:
    """The grounding figure of a caption's ``texts`` against ``evidence`` (and the clip's probed facts).

    ``checks`` and ``settled`` are the board's cross-check and its LLM clauses' verdicts when the caller has them
    (a :class:`~detective.captioning.CaptionJob` computes each once); else they are computed here."""
    texts = list(texts)
    supporting = _supporting(evidence, checks or cross_check(evidence), settled)
    known = _known_words(supporting, evidence, media)
    distinct = list(dict.fromkeys(c for text in texts for c in claims(text)))
    ungrounded = [c for c in distinct if not _grounded(c, known)]
    voices = _voices(supporting)
    for n in dict.fromkeys(int(m.group(1)) for text in texts for m in _SPEAKER_N.finditer(text)):
        distinct.append(f"Speaker {n}")
        if n > voices:
            ungrounded.append(f"Speaker {n}")
    for span in dict.fromkeys(s for text in texts for s in silence_claims(text)):
        label = f"silence {span.start:g}–{span.end:g} s"
        distinct.append(label)
        if not _in_silence(span, supporting):
            ungrounded.append(label)
    total = len(distinct)
    return Grounding(
        score=round(1.0 if total == 0 else (total - len(ungrounded)) / total, 4),
        claims=total,
        grounded=total - len(ungrounded),
        ungrounded=ungrounded,
    )


def _grounded(claim: str, known: set[str]) -> bool:
    if claim in known:
        return True
    parts = norm(claim).split()
    return bool(parts) and all(p in known for p in parts)


#: Sections that report on the observers rather than on the clip.
REPORT_SECTIONS = {"cross-checks"}


def caption_texts(markdown: str) -> list[str]:
    """The parts of a rendered caption that carry claims: every line but headings, and none of the sections that
    report on the observers (:data:`REPORT_SECTIONS`)."""
    lines, skipping = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("#"):
            skipping = line.strip().lstrip("#").strip().lower() in REPORT_SECTIONS
            continue
        if line.strip() and not skipping:
            lines.append(line)
    return lines
