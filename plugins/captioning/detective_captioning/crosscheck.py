"""Cross-modal checks: resolve speech that contradicts on-screen text shown at the same time.

ASR hears "Jon Smyth" while OCR reads "JOHN SMITH" on screen: the caption should use the better-supported form.
On-screen text wins for names and numbers spelled on screen; otherwise the form more sources report wins, then
the more confident observation. Conflicts come from ``evidence.contradictions`` (noted by the evidence board) and,
when the board did not note them, from our own fuzzy match of capitalised names and numbers in speech against
overlapping OCR text (difflib ratio ≥ 0.6).
"""

from __future__ import annotations

import difflib
import re
import string
from dataclasses import dataclass, field
from typing import Literal

from detective.models import Evidence, Observation, Relation
from detective_captioning.format import clock

#: Minimum difflib ratio for two different forms to be "the same thing, told differently".
SIMILAR = 0.6
#: Seconds by which speech and on-screen text may miss each other and still count as simultaneous.
OVERLAP_TOLERANCE = 0.5

_NUMBER = re.compile(r"\b\d+(?:[.,:]\d+)*\b")
_NAME = re.compile(r"\b[A-Z][A-Za-z'’-]+(?:\s+[A-Z][A-Za-z'’-]+)*\b")
_STOP = {"the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "is", "it", "this", "that", "i", "we", "you"}
_PUNCT = string.punctuation + "“”‘’…"


@dataclass
class Conflict:
    """One resolved disagreement between heard speech and on-screen text."""

    speech: Observation
    text: Observation
    heard: str
    shown: str
    chosen: str
    winner: Literal["text", "speech"]
    reason: str


@dataclass
class CrossCheck:
    """The outcome of cross-checking: corrected speech contents and what to report."""

    corrected: dict[str, str] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    others: list[Relation] = field(default_factory=list)
    agreements: list[Relation] = field(default_factory=list)

    def report(self, evidence: Evidence) -> str:
        """The body of the ``## Cross-checks`` section ("" when there is nothing to say)."""
        lines: list[str] = []
        for c in self.conflicts:
            span = c.speech.span
            when = f"At {clock(span.start)}–{clock(span.end)} " if span else ""
            lines.append(
                f"{when}speech recognition ({c.speech.tool}) heard “{c.heard}”, while on-screen text "
                f"({c.text.tool}) shown at the same time reads “{c.shown}”. The transcript uses “{c.chosen}”, "
                f"because {c.reason}."
            )
        for rel in self.others[:10]:
            when = f"At {clock(rel.span.start)}–{clock(rel.span.end)} " if rel.span else ""
            if rel.b_says == "silence" or rel.a_says == "silence":
                words = rel.a_says if rel.b_says == "silence" else rel.b_says
                lines.append(
                    f"{when}{rel.tools[0]} reported “{_clip(words)}” where {rel.tools[1]} measured silence; the words "
                    "are kept, but they may be a recognition error."
                )
            else:
                lines.append(
                    f"{when}the observers disagree: {rel.tools[0]} says “{rel.a_says}”, {rel.tools[1]} says "
                    f"“{rel.b_says}”; the caption does not settle it."
                )
        confirmed: dict[str, Relation] = {}
        for rel in self.agreements:
            confirmed.setdefault(rel.a_says, rel)
        if confirmed:
            listed = "; ".join(
                f"“{term}” ({rel.tools[0]} and {rel.tools[1]})" for term, rel in list(confirmed.items())[:12]
            )
            lines.append(f"Confirmed by independent observers: {listed}.")
        return "\n".join(line[0].upper() + line[1:] for line in lines)


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def _norm(text: str) -> str:
    return " ".join(w.strip(_PUNCT) for w in text.lower().split() if w.strip(_PUNCT))


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _norm(a), _norm(b)).ratio()


def _numeric(term: str) -> bool:
    return term.replace(".", "").replace(",", "").replace(":", "").isdigit()


def _find(term: str, content: str) -> re.Match[str] | None:
    """``term`` in ``content``, case-insensitive, on word boundaries."""
    return re.search(rf"(?<!\w){re.escape(term.strip())}(?!\w)", content, re.IGNORECASE)


def _windows(content: str, size: int) -> list[tuple[int, int]]:
    """Character ranges of every run of ``size`` words (punctuation at the edges excluded)."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", content)]
    out = []
    for i in range(max(0, len(words) - size + 1)):
        start, end = words[i][0], words[i + size - 1][1]
        while start < end and content[start] in _PUNCT:
            start += 1
        while end > start and content[end - 1] in _PUNCT:
            end -= 1
        if end > start:
            out.append((start, end))
    return out


def _locate(term: str, content: str) -> tuple[int, int] | None:
    """Where ``term`` (or the closest run of words to it) sits in ``content``."""
    match = _find(term, content)
    if match:
        return match.start(), match.end()
    size = max(1, len(term.split()))
    best, best_score = None, 0.0
    for n in {size - 1, size, size + 1} - {0}:
        for start, end in _windows(content, n):
            score = _ratio(term, content[start:end])
            if score > best_score:
                best, best_score = (start, end), score
    return best if best_score >= SIMILAR else None


def _candidates(text: str) -> list[str]:
    """Names (runs of capitalised words, stop words dropped at the edges) and numbers, as written.

    A single capitalised word that opens a sentence is no evidence of a name ("Thank you …") and is skipped.
    """
    found = [m.group(0) for m in _NUMBER.finditer(text)]
    for match in _NAME.finditer(text):
        words = match.group(0).split()
        before = text[: match.start()].rstrip()
        if len(words) == 1 and (not before or before[-1] in '.!?…:;"“'):
            continue
        while words and words[0].lower() in _STOP:
            words = words[1:]
        while words and words[-1].lower() in _STOP:
            words = words[:-1]
        if words:
            found.append(" ".join(words))
    return [t for t in dict.fromkeys(found) if len(t) >= 3 or _numeric(t)]


def _affix(x: str, y: str) -> bool:
    """One form inside the other ("Thank"/"THANKS"): a different word, not a misspelling of the same one."""
    return x in y or y in x


def _overlaps(a: Observation, b: Observation) -> bool:
    if a.span is None or b.span is None:
        return True
    return a.span.overlaps(b.span, OVERLAP_TOLERANCE)


def _support(term: str, evidence: Evidence) -> int:
    """How many distinct tools report ``term`` anywhere in the clip."""
    return len({o.tool for o in evidence.observations if _find(term, o.content)})


def _spelled(shown: str, heard: str) -> str:
    """The on-screen form as it should read in a transcript: ALL-CAPS overlays become Title Case."""
    if shown.isupper() and not heard.isupper() and not _numeric(shown):
        return string.capwords(shown)
    return shown


def _resolve(speech: Observation, text: Observation, heard: str, shown: str, evidence: Evidence) -> Conflict:
    is_number = _numeric(_norm(shown).replace(" ", ""))
    is_name = shown[:1].isupper()
    if is_number or is_name:
        what = "a number shown on screen" if is_number else "a name spelled on screen"
        return Conflict(
            speech,
            text,
            heard,
            shown,
            _spelled(shown, heard),
            "text",
            f"{what} is more reliable than the speech recogniser's spelling",
        )
    heard_n, shown_n = _support(heard, evidence), _support(shown, evidence)
    if shown_n != heard_n:
        winner: Literal["text", "speech"] = "text" if shown_n > heard_n else "speech"
        more, less = max(heard_n, shown_n), min(heard_n, shown_n)
        chosen = _spelled(shown, heard) if winner == "text" else heard
        return Conflict(
            speech,
            text,
            heard,
            shown,
            chosen,
            winner,
            f"“{chosen}” is reported by {more} source{'s' if more != 1 else ''} against {less}",
        )
    c_text, c_speech = text.confidence or 0.5, speech.confidence or 0.5
    winner = "speech" if c_speech > c_text else "text"
    chosen = heard if winner == "speech" else _spelled(shown, heard)
    high, low = max(c_text, c_speech), min(c_text, c_speech)
    tool = speech.tool if winner == "speech" else text.tool
    return Conflict(
        speech,
        text,
        heard,
        shown,
        chosen,
        winner,
        f"the {tool} reading is the more confident one ({high:.2f} against {low:.2f})",
    )


def cross_check(evidence: Evidence, speech: list[Observation], texts: list[Observation]) -> CrossCheck:
    """Resolve speech/on-screen-text conflicts and return corrected speech contents keyed by observation key."""
    result = CrossCheck(agreements=list(evidence.agreements))
    by_key = {o.key: o for o in evidence.observations}
    handled: set[tuple[str, str]] = set()
    found: list[tuple[Observation, Observation, str, str]] = []
    for rel in evidence.contradictions:
        a, b = by_key.get(rel.a), by_key.get(rel.b)
        if a is None or b is None or {a.kind, b.kind} != {"speech", "text"}:
            result.others.append(rel)
            continue
        s, t = (a, b) if a.kind == "speech" else (b, a)
        s_term = rel.a_says if a is s else rel.b_says
        t_term = rel.a_says if a is t else rel.b_says
        s_at, t_at = _locate(s_term, s.content), _locate(t_term, t.content)
        if s_at is None or t_at is None:
            result.others.append(rel)
            continue
        heard, shown = s.content[s_at[0] : s_at[1]], t.content[t_at[0] : t_at[1]]
        if (s.key, heard.lower()) in handled:
            continue
        handled.add((s.key, heard.lower()))
        found.append((s, t, heard, shown))
    for s in speech:
        for t in texts:
            if not _overlaps(s, t):
                continue
            for term in _candidates(s.content):
                if (s.key, term.lower()) in handled or _find(term, t.content):
                    continue
                size = len(term.split())
                best, best_score = None, 0.0
                for start, end in _windows(t.content, size):
                    score = _ratio(term, t.content[start:end])
                    if score > best_score:
                        best, best_score = t.content[start:end], score
                if best is None or not (SIMILAR <= best_score < 1.0):
                    continue
                if _numeric(_norm(term)) != _numeric(_norm(best)) or _affix(_norm(term), _norm(best)):
                    continue
                handled.add((s.key, term.lower()))
                found.append((s, t, term, best))
    for s, t, heard, shown in found:
        conflict = _resolve(s, t, heard, shown, evidence)
        result.conflicts.append(conflict)
        if conflict.winner == "text":
            content = result.corrected.get(s.key, " ".join(s.content.split()))
            at = _locate(heard, content)
            if at is not None:
                content = content[: at[0]] + conflict.chosen + content[at[1] :]
            result.corrected[s.key] = content
    result.conflicts.sort(key=lambda c: c.speech.span.start if c.speech.span else 0.0)
    return result
