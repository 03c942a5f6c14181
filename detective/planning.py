"""The planner interface: read the evidence, decide what to probe next or close the case.

:func:`plan_or_fall_back` is how the graph asks a planner: a planner that fails (an error, replies it cannot use,
or closing the case before any observer ran) hands the clip to the rule planner's broad pass for the rest of the
investigation, with a note, so every available observer still runs and a planner error never aborts a caption.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import structlog
from pydantic import BaseModel, ConfigDict, Field

from detective.logs import redact
from detective.models import Evidence, MediaInfo, Query, RoundRecord
from detective.tools import Tool


class PlanInput(BaseModel):
    """What a planner sees: the clip, the evidence, the applicable tools, the round and the conversation."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    media: MediaInfo
    evidence: Evidence
    tools: list[Tool]
    round: int = Field(description="The round being planned, starting at 1.")
    max_rounds: int
    rounds: list[RoundRecord] = Field(default_factory=list)
    trajectory: list[dict[str, Any]] = Field(default_factory=list)
    last_queries: list[Query] = Field(default_factory=list, description="Queries run in the previous round.")


class Plan(BaseModel):
    """A planner's decision: queries to run, or ``finish``; and the conversation after this turn."""

    queries: list[Query] = Field(default_factory=list)
    finish: bool = False
    rationale: str = ""
    trajectory: list[dict[str, Any]] | None = Field(
        default=None, description="The whole conversation after this turn; None leaves it unchanged."
    )
    failed: str = Field(
        default="", description="Why the planner could not decide (unusable replies …); the graph then falls back."
    )
    fallback: bool = Field(default=False, description="True when the rule planner's fallback made this plan.")
    notes: list[str] = Field(default_factory=list, description="Notes for the run's record.")


class Planner(abc.ABC):
    """Base class of planners."""

    name: ClassVar[str] = ""
    needs_api: ClassVar[bool] = False

    @abc.abstractmethod
    async def plan(self, inp: PlanInput) -> Plan:
        """Decide the next queries for ``inp``."""


log = structlog.get_logger("detective.planning")


async def plan_or_fall_back(planner: Planner, inp: PlanInput, fallback_since: int = 0) -> Plan:
    """Ask ``planner`` for round ``inp.round``; fall back to the rule planner's broad pass when it cannot plan.

    ``fallback_since`` is the round the clip fell back at (0: it has not); from then on the rule planner plans
    every round. The plan made by the fallback has ``fallback=True`` and, in the round it starts, a note saying why.
    """
    if fallback_since:
        return await _rule_plan(inp, fallback_since)
    try:
        decision = await planner.plan(inp)
    except Exception as exc:  # a planner error never aborts a caption: the clip is examined all the same
        reason = f"{type(exc).__name__}: {redact(str(exc))[:300]}"
        decision = Plan(failed=reason)
    if not decision.failed and decision.finish and not decision.queries and not inp.evidence.answered:
        decision = decision.model_copy(update={"failed": "it closed the case before asking any observer"})
    if not decision.failed:
        return decision
    name = getattr(planner, "name", "") or type(planner).__name__
    note = (
        f"round {inp.round}: the {name} planner could not plan ({decision.failed}); "
        "the rule planner's broad pass ran instead"
    )
    log.warning("planner fell back", planner=name, reason=decision.failed)
    fallback = await _rule_plan(inp, inp.round)
    return fallback.model_copy(
        update={"trajectory": decision.trajectory, "notes": [*decision.notes, note], "rationale": note}
    )


async def _rule_plan(inp: PlanInput, since: int) -> Plan:
    """The rule planner's plan for ``inp``, its rounds counted from ``since`` (its broad pass comes first)."""
    from detective.agent.rule_planner import RulePlanner

    rule = RulePlanner()
    answered = set(inp.evidence.answered)
    shifted = inp.model_copy(update={"round": inp.round - since + 1})
    decision = await rule.plan(shifted)
    if shifted.round == 1 and not [q for q in decision.queries if q.key not in answered]:
        decision = await rule.plan(shifted.model_copy(update={"round": 2}))
    return decision.model_copy(update={"fallback": True})
