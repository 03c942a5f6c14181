"""Grounding: how much of a caption rests on what the observers reported.

A caption's *claims* are the words it quotes, and the names and numbers its prose states about the clip. A claim is
grounded when at least one observation reports it (in its content or payload). Measurements the captioner derives
from spans and signal levels (times, durations, dBFS, Hz, counts of shots or words …) are not claims about the
clip's content and are not counted. ``RunResult.grounding`` carries the figure and the ungrounded claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from detective.crosscheck import UNCLEAR, norm
from detective.models import Evidence, Grounding, MediaInfo

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


def _known_words(evidence: Evidence, media: MediaInfo | None) -> set[str]:
    words: set[str] = set()
    for obs in evidence.observations:
        words.update(norm(obs.content).split())
        words.update(norm(obs.tool.replace("_", " ")).split())
        words.add(obs.tool.lower())
        _collect(obs.payload, words)
    if media is not None:
        _collect(media.model_dump(), words)
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
    """The claims of ``text``: every quoted word, and names and numbers of the prose (sentence openers skipped)."""
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
                if _NUMBER.fullmatch(bare):
                    found.append(bare.lower())
                elif i > 0 and _NAME.match(bare) and norm(bare) and norm(bare) not in METHOD_WORDS:
                    found.append(norm(bare))
    return [c for c in found if c and c not in {"unclear"}]


def measure(texts: Iterable[str], evidence: Evidence, media: MediaInfo | None = None) -> Grounding:
    """The grounding figure of a caption's ``texts`` against ``evidence`` (and the clip's probed facts)."""
    known = _known_words(evidence, media)
    distinct = list(dict.fromkeys(c for text in texts for c in claims(text)))
    ungrounded = [c for c in distinct if not _grounded(c, known)]
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


def caption_texts(markdown: str) -> list[str]:
    """The parts of a rendered caption that carry claims: every line but headings and span lines."""
    return [line for line in markdown.splitlines() if line.strip() and not line.lstrip().startswith("#")]
