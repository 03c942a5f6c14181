"""The evidence board: merge observations, drop duplicates, record coverage, note agreements and contradictions.

Comparing observations is the work of :mod:`detective.evidence.crosscheck` (the one cross-check engine): one term on
both sides is an agreement; two terms that are close but not equal ("Jon Smyth" heard, "John Smith" on screen) are
a contradiction; speech over measured silence is a contradiction too. The planner re-checks contradictions; the
captioner writes from :func:`detective.evidence.crosscheck.cross_check`.

An LLM observer's answer is split into claims, each checked against the local observers and the other LLM
observers (:mod:`detective.evidence.claims`): agreements and contradictions with ``aspect`` set.

A re-check (a tool run again over time it already examined) never adds findings of its own kind on its own: its
speech confirms, corrects or lowers the confidence of what the first pass heard there, and speech the first pass
did not hear is kept on the board marked ``unconfirmed``, which captioners leave out.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from detective.evidence import claims
from detective.evidence.crosscheck import OVERLAP_TOLERANCE, WORDY_KINDS, compare, key_terms, norm, similarity
from detective.evidence.digest import board_digest as digest
from detective.models import Coverage, Evidence, Observation, Relation, TimeSpan, ToolFailure, join_words

__all__ = [
    "OVERLAP_TOLERANCE",
    "WORDY_KINDS",
    "EvidenceUpdate",
    "compare",
    "digest",
    "key_terms",
    "merge",
    "reduce_evidence",
]

#: Spelling similarity at or above which a re-check confirms what the first pass heard (punctuation aside).
CONFIRMS = 0.95


class EvidenceUpdate(BaseModel):
    """What one observer run adds to the board (the reducer's right-hand side).

    ``defer_claims`` leaves the check of the LLM claims against the grown board to a later update: a round's
    observers each add their answer with it set, and the round's close (the graph's ``review``) sends an empty
    update, which checks every claim once against the whole round's board instead of once per answer. The other
    relations (local cross-checks) are noted at once either way.
    """

    observations: list[Observation] = Field(default_factory=list)
    failures: list[ToolFailure] = Field(default_factory=list)
    answered: list[str] = Field(default_factory=list)
    coverage: list[Coverage] = Field(default_factory=list)
    defer_claims: bool = False


def merge(evidence: Evidence, update: EvidenceUpdate | Iterable[Observation]) -> Evidence:
    """A new board with ``update`` merged in: duplicates folded, new relations noted (the LLM claims' unless the
    update defers them, :class:`EvidenceUpdate`). ``evidence`` is unchanged."""
    if not isinstance(update, EvidenceUpdate):
        update = EvidenceUpdate(observations=list(update))
    # Observations are immutable and relations are replaced, never edited: a board of copied lists is enough.
    board = Evidence.model_construct(
        observations=list(evidence.observations),
        agreements=list(evidence.agreements),
        contradictions=list(evidence.contradictions),
        failures=list(evidence.failures),
        answered=list(evidence.answered),
        coverage=list(evidence.coverage),
    )
    rechecks = _rechecks(board.coverage, update.coverage)
    index = {o.key: i for i, o in enumerate(board.observations)}
    added: list[Observation] = []
    for obs in update.observations:
        if obs.kind == "speech" and obs.query_key in rechecks:
            obs = _reconcile(board, index, obs)
            if obs is None:
                continue
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
                if ident in seen or (rel.kind, rel.b, rel.a, rel.b_says, rel.a_says) in seen:
                    continue
                seen.add(ident)
                (board.agreements if rel.kind == "agreement" else board.contradictions).append(rel)
    board.failures.extend(update.failures)
    board.coverage.extend(update.coverage)
    if not update.defer_claims and any(o.kind == "description" for o in board.observations):
        # LLM claims are checked against the whole board (an absence counts where an observer examined the
        # span), so they are checked again whenever the board grows (or, deferred, once the round is in).
        agreements, contradictions = claims.relations(board)
        board.agreements = [r for r in board.agreements if not r.aspect] + agreements
        board.contradictions = [r for r in board.contradictions if not r.aspect] + contradictions
    for key in update.answered:
        if key not in board.answered:
            board.answered.append(key)
    return board


def _rechecks(before: list[Coverage], new: list[Coverage]) -> set[str]:
    """Query keys of the new runs that re-examine time their tool already examined successfully."""
    keys = set()
    for run in new:
        for old in before:
            if old.tool != run.tool or not old.ok or old.query_key == run.query_key:
                continue
            if old.span is None or (
                run.span is not None and old.span.start - 0.05 <= run.span.start and run.span.end <= old.span.end + 0.05
            ):
                keys.add(run.query_key)
                break
    return keys


def _reconcile(board: Evidence, index: dict[str, int], heard: Observation) -> Observation | None:
    """Fold a re-check's speech into what the first pass heard there; ``None`` when nothing new remains.

    - the same words: the first pass is confirmed (its confidence rises to the re-check's);
    - other words, heard more confidently: the first pass is corrected (its words inside the span replaced);
    - other words, less confidently: the first pass keeps its words at the lower confidence of the two;
    - nothing heard there before: the re-check's words are kept marked ``unconfirmed`` (never a new turn).
    """
    if heard.span is None:
        return heard
    firsts = [
        i
        for i, o in enumerate(board.observations)
        if o.kind == "speech"
        and o.tool == heard.tool
        and o.span is not None
        and o.span.overlaps(heard.span, 0.05)
        and not o.payload.unconfirmed
    ]
    if not firsts:
        payload = heard.payload.model_copy(update={"unconfirmed": True})
        return heard.model_copy(update={"payload": payload, "confidence": min(heard.confidence or 0.0, 0.3)})
    heard_words = norm(heard.content)
    for i in firsts:
        first = board.observations[i]
        before = first.key
        inside = _words_within(first, heard.span)
        if similarity(inside, heard_words, sound=False) >= CONFIRMS:
            updated = first.model_copy(
                update={
                    "confidence": max(first.confidence or 0.0, heard.confidence or 0.0),
                    "payload": first.payload.model_copy(
                        update={"confirmed_by": [*first.payload.confirmed_by, heard.key]}
                    ),
                }
            )
        elif (heard.confidence or 0.0) > (first.confidence or 0.0):
            updated = _replace_words(first, heard)
        else:
            updated = first.model_copy(update={"confidence": min(first.confidence or 0.0, heard.confidence or 0.0)})
        board.observations[i] = updated
        index[updated.key] = i
        if updated.key != before:
            _rename(board, before, updated.key)
    return None


def _words_within(obs: Observation, span: TimeSpan) -> str:
    words = obs.payload.words
    if not words:
        return norm(obs.content)
    inside = [w.word for w in words if span.start - 0.1 <= w.start and w.end <= span.end + 0.1]
    return norm(" ".join(inside))


def _replace_words(first: Observation, heard: Observation) -> Observation:
    """``first`` with its words inside ``heard``'s span replaced by the re-check's words."""
    assert heard.span is not None
    old, new = first.payload.words or [], heard.payload.words or []
    if not old or not new:
        content = heard.content if heard.span.overlap(first.span or heard.span) else first.content
        return first.model_copy(update={"content": content, "confidence": heard.confidence})
    kept = [w for w in old if not (heard.span.start <= w.start and w.end <= heard.span.end)]
    words = sorted(
        kept
        + [
            w
            for w in new
            if first.span is None or first.span.overlaps(TimeSpan(start=w.start, end=max(w.start, w.end)))
        ],
        key=lambda w: w.start,
    )
    content = join_words([w.word for w in words])
    payload = first.payload.model_copy(
        update={"words": words, "corrected_by": [*first.payload.corrected_by, heard.key]}
    )
    return first.model_copy(update={"content": content, "payload": payload, "confidence": heard.confidence})


def _same_finding(observations: list[Observation], obs: Observation) -> int | None:
    """Index of an observation reporting the same thing (same tool, kind and words) over an overlapping span.

    Two reports of one run are never the same finding: an observer that reported two silences with a sound
    between them meant two silences (folding them would cover the sound)."""
    if obs.span is None:
        return None
    for i, other in enumerate(observations):
        if (
            not (obs.query_key and other.query_key == obs.query_key and other.span != obs.span)
            and other.tool == obs.tool
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
