"""HybridPlanner, the online default: the local broad pass first, then the LLM planner for what only models judge.

Round 1 runs the rule planner's local broad pass (:func:`~detective.agent.rule_planner.hybrid_broad_pass`: every local
observer that builds on no other's pass) together with the question tools' general description of the clip,
without asking the model anything. From round 2 the LLM planner plans targeted rounds from a digest of that board
(contradictions, low-confidence spans, what the local observers cannot judge: voices, emotions, actions, scene
semantics), several questions a round; the local observers that build on the first pass (OCR and scene on the
shots) join its first round. ``--planner llm`` is the paper's pure LLM planner, which plans round 1 as well.
"""

from __future__ import annotations

from typing import Any, ClassVar

from detective.agent.rule_planner import hybrid_broad_pass
from detective.planning import Plan, PlanInput, Planner


class HybridPlanner(Planner):
    """The local broad pass in round 1, then :class:`~detective.agent.llm_planner.LLMPlanner` (options go to it)."""

    name: ClassVar[str] = "hybrid"
    needs_api: ClassVar[bool] = True

    def __init__(self, llm: Any = None, **llm_options: Any) -> None:
        if llm is None:
            from detective.agent.llm_planner import LLMPlanner  # imports the openai SDK: only when a run needs it

            llm = LLMPlanner(**llm_options)
        self.llm = llm

    @property
    def role(self) -> str:
        """The settings role whose model plans (the LLM planner's)."""
        return str(getattr(self.llm, "role", "planner"))

    @property
    def prompt_hash(self) -> str:
        """Hash of the LLM planner's prompt templates (provenance)."""
        return str(getattr(self.llm, "prompt_hash", ""))

    async def plan(self, inp: PlanInput) -> Plan:
        """Round 1: the local broad pass; later rounds: the LLM planner's questions, with the broad queries that
        waited for the first pass (the model's ``finish`` then waits for them)."""
        pending = hybrid_broad_pass(inp)
        if inp.round == 1 and pending:
            return Plan(queries=pending, rationale="local broad pass and the models' general description")
        decision = await self.llm.plan(inp)
        if decision.failed or not pending:
            return decision
        keys = {q.key for q in pending}
        queries = [*pending, *(q for q in decision.queries if q.key not in keys)]
        return decision.model_copy(update={"queries": queries, "finish": False})

    async def conclude(self, inp: PlanInput) -> list[dict[str, Any]]:
        """Close the LLM planner's conversation (see :meth:`LLMPlanner.conclude`)."""
        return await self.llm.conclude(inp)
