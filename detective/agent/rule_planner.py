"""RulePlanner: the deterministic, offline planner.

Round 1 runs the stage-0 tools' broad passes that later tools build on (shots, for OCR on shot keyframes); round 2
runs the stage-1 tools on that first pass, together with the stage-0 tools nobody waits for (ASR, audio analysis
…), so the slow independent observers work alongside the ones that had to wait. When a later tool names no
``needs`` (question tools: LLM observers, which are also asked about the separated voices), round 1 runs every
stage-0 tool. Round 2 also asks the question tools to describe the clip. Later rounds re-check spans where sources
contradict each other or report low confidence. The case closes when there is nothing new to ask.
"""

from __future__ import annotations

from typing import ClassVar

from detective.models import Evidence, Observation, Query, TimeSpan
from detective.planning import Plan, PlanInput, Planner
from detective.tools import Tool

#: Observations below this confidence get a second look.
LOW_CONFIDENCE = 0.5
#: Re-checks per round, so a noisy clip cannot flood the budget.
MAX_RECHECKS = 4
#: Rounds of broad passes; only their findings are re-checked.
FIRST_PASS = 2
#: Separated voices an audio question tool is asked about (one question each, on the voice's longest turn) …
MAX_VOICES = 4
#: … and the most seconds of that turn it hears.
VOICE_SECONDS = 20.0


class RulePlanner(Planner):
    """Broad passes first, then targeted re-checks of contradicting or low-confidence spans."""

    name: ClassVar[str] = "rule"

    async def plan(self, inp: PlanInput) -> Plan:
        """Plan round ``inp.round`` from the evidence so far."""
        answered = set(inp.evidence.answered)
        first = first_pass(inp.tools)
        if inp.round == 1:
            queries = [q for t in _longest_first(first) for q in t.broad_queries(inp.media, inp.evidence)]
            if queries:
                return Plan(queries=queries, rationale="broad pass: structure and signal")
        later = [t for t in inp.tools if (t.stage >= 1 or t.asks_questions)]
        later += [t for t in inp.tools if t.stage == 0 and not t.asks_questions and t not in first]
        broad = [q for t in _longest_first(later) for q in t.broad_queries(inp.media, inp.evidence)]
        broad += _voice_questions(inp)
        broad = [q for q in broad if q.key not in answered]
        if broad:
            return Plan(queries=broad, rationale="broad pass: content, using the first pass")
        rechecks = self._rechecks(inp)
        rechecks = [q for q in rechecks if q.key not in answered][:MAX_RECHECKS]
        if rechecks:
            return Plan(queries=rechecks, rationale="re-check contradictions and low-confidence spans")
        return Plan(finish=True, rationale="every tool has reported and nothing needs a second look")

    def _rechecks(self, inp: PlanInput) -> list[Query]:
        ev: Evidence = inp.evidence
        by_key = {o.key: o for o in ev.observations}
        tools = {t.name: t for t in inp.tools}
        queries: list[Query] = []
        for rel in ev.contradictions:
            sides = [by_key.get(rel.a), by_key.get(rel.b)]
            if rel.span is None or any(o is None or o.round is None or o.round > FIRST_PASS for o in sides):
                continue  # re-check what the broad passes disagree on; a re-check's own answer is final
            span = _pad(rel.span, inp.media.duration)
            claims = [rel.a_says, rel.b_says]
            askers = [t for t in inp.tools if t.asks_questions]
            targets = askers or [tools[n] for n in rel.tools if n in tools]
            for tool in targets:
                queries.extend(tool.recheck_queries(inp.media, ev, span, claims))
        weak: list[Observation] = [
            o
            for o in by_key.values()
            if o.span is not None and o.confidence is not None and o.confidence < LOW_CONFIDENCE
        ]
        for obs in sorted(weak, key=lambda o: o.confidence or 0.0):
            tool = tools.get(obs.tool)
            if tool is None or obs.round is None or obs.round > FIRST_PASS:
                continue
            assert obs.span is not None
            queries.extend(tool.recheck_queries(inp.media, ev, _pad(obs.span, inp.media.duration), [obs.content]))
        return queries


def first_pass(tools: list[Tool]) -> list[Tool]:
    """The tools of round 1: the stage-0 tools covering what the later tools ``need``.

    Every stage-0 tool when a later tool (stage 1, or a question tool) names no needs, or when none is needed at
    all (an audio clip: no tool builds on shots).
    """
    stage0 = [t for t in tools if t.stage == 0 and not t.asks_questions]
    needed: set[str] = set()
    for tool in tools:
        if tool.stage >= 1 or tool.asks_questions:
            if not tool.needs:
                return stage0
            needed.update(tool.needs)
    return [t for t in stage0 if needed & set(t.covers)] or stage0


def hybrid_broad_pass(inp: PlanInput) -> list[Query]:
    """The local broad pass of hybrid planning (:class:`~detective.agent.hybrid_planner.HybridPlanner`), unanswered.

    Round 1: every local tool that builds on no other tool's pass (stage 0), and the question tools' general
    description of the clip (their :meth:`~detective.tools.Tool.broad_queries`). Later rounds: the local stage-1
    tools, which build on the first pass (OCR and scene on the shots), once it is on the board. A stage-1 tool
    whose ``needs`` no stage-0 tool covers runs in round 1 all the same.
    """
    answered = set(inp.evidence.answered)
    local = [t for t in inp.tools if not t.asks_questions]
    covered = {a for t in local if t.stage == 0 for a in t.covers}
    waiting = [t for t in local if t.stage >= 1 and (not t.needs or set(t.needs) & covered)]
    chosen = [t for t in inp.tools if t not in waiting] if inp.round == 1 else waiting
    queries = [q for t in _longest_first(chosen) for q in t.broad_queries(inp.media, inp.evidence)]
    return [q for q in queries if q.key not in answered]


def _longest_first(tools: list[Tool]) -> list[Tool]:
    """Remote tools first (they mostly wait on the network), then local ones by falling ``cost``: with at most
    ``max_concurrency`` observers running, the round ends sooner when its longest ones start first."""
    return sorted(tools, key=lambda t: (not t.needs_api, -t.cost))


def _voice_questions(inp: PlanInput) -> list[Query]:
    """One question per separated voice to the audio question tools: who is this speaker, in their longest turn.

    Voice separation says *that* voices differ; an audio LLM can say how (gender and age impression, accent,
    emotion). Only when at least two voices were separated, and for at most MAX_VOICES of them.
    """
    askers = [t for t in inp.tools if t.asks_questions and "audio" in t.modalities]
    longest: dict[str, Observation] = {}
    for obs in inp.evidence.by_kind("speaker"):
        label = obs.payload.speaker
        if obs.span is None or not label:
            continue
        if label not in longest or obs.span.duration > longest[label].span.duration:  # type: ignore[union-attr]
            longest[label] = obs
    if not askers or len(longest) < 2:
        return []
    queries = []
    for label, turn in sorted(longest.items())[:MAX_VOICES]:
        assert turn.span is not None
        span = TimeSpan(start=turn.span.start, end=min(turn.span.end, turn.span.start + VOICE_SECONDS))
        question = (
            f"Between {span.start:.2f}s and {span.end:.2f}s one voice speaks (speaker {label} of the voice "
            "separation). Describe only this voice: gender and age impression, accent, emotion and speaking style."
        )
        queries += [Query(tool=t.name, question=question, span=span) for t in askers]
    return queries


def _pad(span: TimeSpan, duration: float, pad: float = 0.5) -> TimeSpan:
    start = max(0.0, round(span.start - pad, 2))
    end = min(duration, round(span.end + pad, 2)) if duration else round(span.end + pad, 2)
    return TimeSpan(start=start, end=max(start, end))
