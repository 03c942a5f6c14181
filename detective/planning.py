"""The planner interface: read the evidence, decide what to probe next or close the case.

The graph asks a planner through :func:`detective.agent.fallback.plan_or_fall_back`, which hands a clip whose
planner fails to the rule planner's broad pass.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

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
