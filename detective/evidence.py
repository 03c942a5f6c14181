"""The evidence board: merge observations, drop duplicates, note agreements and contradictions between sources.

Cross-checking compares *key terms* (names and numbers) of observations from different tools whose spans overlap:
the same term on both sides is an agreement; two terms that are close but not equal ("Jon Smyth" heard, "John
Smith" on screen) are a contradiction. Speech reported during a span another tool calls silence is a
contradiction too. The planner re-checks contradictions; the captioner resolves them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from pydantic import BaseModel, Field

from detective.models import Evidence, Observation, Relation, TimeSpan, ToolFailure

#: Observations of these kinds carry words that can be cross-checked.
WORDY_KINDS = {"text", "speech", "description"}
#: Spans closer than this (seconds) count as overlapping when cross-checking.
OVERLAP_TOLERANCE = 0.5
#: Minimum similarity for two different terms to be "the same thing, told differently".
SIMILAR = 0.6

_NUMBER = re.compile(r"\b\d+(?:[.,:]\d+)*\b")
_NAME = re.compile(r"\b[A-Z][A-Za-z'’-]+(?:\s+[A-Z][A-Za-z'’-]+)*\b")
_STOP = {"the", "a", "an", "and", "or", "of", "to", "in", "on", "at", "is", "it", "this", "that", "i", "we", "you"}


class EvidenceUpdate(BaseModel):
    """What one observer run adds to the board (the reducer's right-hand side)."""

    observations: list[Observation] = Field(default_factory=list)
    failures: list[ToolFailure] = Field(default_factory=list)
    answered: list[str] = Field(default_factory=list)


def key_terms(text: str) -> dict[str, str]:
    """Names (runs of capitalised words) and numbers in ``text``: lower-cased term to its form in the text."""
    terms = {m.group(0): m.group(0) for m in _NUMBER.finditer(text)}
    for match in _NAME.finditer(text):
        words = [w for w in match.group(0).split() if w.lower() not in _STOP]
        if words:
            terms[" ".join(words)] = " ".join(words)
    return {t.lower(): original for t, original in terms.items()}


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def compare(a: Observation, b: Observation) -> list[Relation]:
    """Agreements and contradictions between two observations of different tools (none when spans are apart)."""
    if a.tool == b.tool:
        return []
    if a.span is not None and b.span is not None and not a.span.overlaps(b.span, OVERLAP_TOLERANCE):
        return []
    span = _joint_span(a.span, b.span)
    relations: list[Relation] = []
    silence = {a.kind, b.kind} == {"speech", "sound_event"}
    if silence:
        event = a if a.kind == "sound_event" else b
        speech = b if event is a else a
        label = str(event.payload.get("label", event.content)).lower()
        if label == "silence" and speech.span and event.span and speech.span.overlap(event.span) >= 0.5:
            relations.append(_relation("contradiction", speech, event, span, speech.content, "silence"))
        return relations
    if a.kind not in WORDY_KINDS or b.kind not in WORDY_KINDS:
        return relations
    terms_a, terms_b = key_terms(a.content), key_terms(b.content)
    for term in sorted(terms_a):
        if not terms_b:
            break
        best = max(terms_b, key=lambda t: _similarity(term, t))
        score = _similarity(term, best)
        if term == best:
            relations.append(_relation("agreement", a, b, span, terms_a[term], terms_b[best]))
        elif score >= SIMILAR and _comparable(term, best):
            relations.append(_relation("contradiction", a, b, span, terms_a[term], terms_b[best]))
    return relations


def _comparable(x: str, y: str) -> bool:
    """Numbers compare with numbers, names with names; a name is never 'contradicted' by a longer phrase."""
    if x.replace(".", "").isdigit() != y.replace(".", "").isdigit():
        return False
    return abs(len(x.split()) - len(y.split())) == 0 and x not in y and y not in x


def _joint_span(a: TimeSpan | None, b: TimeSpan | None) -> TimeSpan | None:
    if a is None or b is None:
        return a or b
    return TimeSpan(
        start=max(a.start, b.start) if a.overlap(b) else min(a.start, b.start),
        end=min(a.end, b.end) if a.overlap(b) else max(a.end, b.end),
    )


def _relation(kind: str, a: Observation, b: Observation, span: TimeSpan | None, sa: str, sb: str) -> Relation:
    return Relation(
        kind=kind,
        a=a.key,
        b=b.key,
        tools=(a.tool, b.tool),
        span=span,
        a_says=sa,
        b_says=sb,  # type: ignore[arg-type]
        note=f"{a.tool} ({a.kind}) says {sa!r}; {b.tool} ({b.kind}) says {sb!r}",
    )


def merge(evidence: Evidence, update: EvidenceUpdate | Iterable[Observation]) -> Evidence:
    """A new board with ``update`` merged in: duplicates folded, new relations noted. ``evidence`` is unchanged."""
    if not isinstance(update, EvidenceUpdate):
        update = EvidenceUpdate(observations=list(update))
    # Observations are immutable and relations are replaced, never edited: a board of copied lists is enough.
    board = Evidence.model_construct(
        observations=list(evidence.observations),
        agreements=list(evidence.agreements),
        contradictions=list(evidence.contradictions),
        failures=list(evidence.failures),
        answered=list(evidence.answered),
    )
    index = {o.key: i for i, o in enumerate(board.observations)}
    added: list[Observation] = []
    for obs in update.observations:
        existing = index.get(obs.key)
        if existing is None:
            existing = _same_finding(board.observations, obs)
        if existing is not None:
            before = board.observations[existing].key
            board.observations[existing] = folded = _fold(board.observations[existing], obs)
            index[obs.key] = index[folded.key] = existing
            if folded.key != before:  # the span grew: relations follow the observation to its new key
                _rename(board, before, folded.key)
            continue
        index[obs.key] = len(board.observations)
        board.observations.append(obs)
        added.append(obs)
    seen = {(r.kind, r.a, r.b, r.a_says, r.b_says) for r in board.agreements + board.contradictions}
    for new in added:
        for other in board.observations:
            if other is new or other.key == new.key:
                continue
            for rel in compare(other, new):
                ident = (rel.kind, rel.a, rel.b, rel.a_says, rel.b_says)
                if ident in seen:
                    continue
                seen.add(ident)
                (board.agreements if rel.kind == "agreement" else board.contradictions).append(rel)
    board.failures.extend(update.failures)
    for key in update.answered:
        if key not in board.answered:
            board.answered.append(key)
    return board


def _same_finding(observations: list[Observation], obs: Observation) -> int | None:
    """Index of an observation reporting the same thing (same tool, kind and words) over an overlapping span."""
    if obs.span is None:
        return None
    for i, other in enumerate(observations):
        if (
            other.tool == obs.tool
            and other.kind == obs.kind
            and other.span is not None
            and other.span.overlaps(obs.span, OVERLAP_TOLERANCE)
            and other.words == obs.words
        ):
            return i
    return None


def _fold(old: Observation, new: Observation) -> Observation:
    """One observation for two reports of the same finding: the union of the spans, the higher confidence."""
    best = new if (new.confidence or 0.0) > (old.confidence or 0.0) else old
    span = old.span
    if old.span is not None and new.span is not None:
        span = TimeSpan(start=min(old.span.start, new.span.start), end=max(old.span.end, new.span.end))
    return best.model_copy(update={"span": span, "round": old.round, "query_key": old.query_key})


def _rename(board: Evidence, old: str, new: str) -> None:
    def renamed(rel: Relation) -> Relation:
        if old not in (rel.a, rel.b):
            return rel
        return rel.model_copy(update={"a": new if rel.a == old else rel.a, "b": new if rel.b == old else rel.b})

    board.agreements = [renamed(r) for r in board.agreements]
    board.contradictions = [renamed(r) for r in board.contradictions]


def reduce_evidence(left: Evidence | None, right: Evidence | EvidenceUpdate | None) -> Evidence:
    """LangGraph reducer for the ``evidence`` channel: an Evidence replaces, an EvidenceUpdate merges."""
    if right is None:
        return left or Evidence()
    if isinstance(right, Evidence):
        return right
    return merge(left or Evidence(), right)


def digest(evidence: Evidence, limit: int = 60, width: int = 240) -> str:
    """A compact, time-ordered text view of the board for planners and prompts."""
    lines = []
    ordered = sorted(evidence.observations, key=lambda o: (o.span.start if o.span else -1.0, o.tool))
    for obs in ordered[:limit]:
        when = f"{obs.span.start:7.2f}-{obs.span.end:7.2f}s" if obs.span else "      whole clip"
        conf = f" conf={obs.confidence:.2f}" if obs.confidence is not None else ""
        text = " ".join(obs.content.split())
        lines.append(f"[{when}] {obs.tool}/{obs.kind}{conf}: {text[:width]}")
    if len(ordered) > limit:
        lines.append(f"... {len(ordered) - limit} more observations")
    for rel in evidence.contradictions[:20]:
        lines.append(f"CONTRADICTION: {rel.note}")
    for failure in evidence.failures[-10:]:
        lines.append(f"FAILED: {failure.tool}: {failure.error[:200]}")
    return "\n".join(lines) or "(no observations yet)"
