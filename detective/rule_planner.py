"""RulePlanner: the deterministic, offline planner.

Round 1 runs every stage-0 tool's broad pass (shots, audio activity, ASR …). Round 2 runs the stage-1 tools, which
build on the first pass (OCR on shot keyframes …), and asks question tools (LLM observers, when present) to
describe the clip. Later rounds re-check spans where sources contradict each other or report low confidence. The
case closes when there is nothing new to ask.
"""

from __future__ import annotations

from typing import ClassVar

from detective.models import Evidence, Observation, Query, TimeSpan
from detective.planning import Plan, PlanInput, Planner

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
        if inp.round == 1:
            queries = [
                q
                for t in inp.tools
                if t.stage == 0 and not t.asks_questions
                for q in t.broad_queries(inp.media, inp.evidence)
            ]
            if queries:
                return Plan(queries=queries, rationale="broad pass: structure and signal")
        broad = [
            q for t in inp.tools if (t.stage >= 1 or t.asks_questions) for q in t.broad_queries(inp.media, inp.evidence)
        ]
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


def _voice_questions(inp: PlanInput) -> list[Query]:
    """One question per separated voice to the audio question tools: who is this speaker, in their longest turn.

    Voice separation says *that* voices differ; an audio LLM can say how (gender and age impression, accent,
    emotion). Only when at least two voices were separated, and for at most MAX_VOICES of them.
    """
    askers = [t for t in inp.tools if t.asks_questions and "audio" in t.modalities]
    longest: dict[str, Observation] = {}
    for obs in inp.evidence.by_kind("speaker"):
        label = obs.payload.get("speaker")
        if obs.span is None or not label:
            continue
        if str(label) not in longest or obs.span.duration > longest[str(label)].span.duration:  # type: ignore[union-attr]
            longest[str(label)] = obs
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
