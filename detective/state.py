"""State and configuration of the Detective graph.

The state is what changes during a run; the context (``DetectiveContext``, LangGraph's ``context_schema``) is what
stays fixed: the tool box, the planner, the captioner, the limits and the run's services.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, Field

from detective.captioning import Captioner
from detective.evidence import reduce_evidence
from detective.models import Caption, Evidence, MediaInfo, Query, RoundRecord
from detective.planning import Planner
from detective.runtime import RunServices
from detective.tools import Tool


class Budget(BaseModel):
    """Limits of one clip's investigation; ``None`` means unlimited. Checked before each round."""

    max_calls: int | None = Field(default=None, description="Observer runs plus LLM calls.")
    max_tokens: int | None = Field(default=None, description="LLM tokens over all models.")
    max_seconds: float | None = Field(default=None, description="Wall time of the investigation.")


@dataclass
class DetectiveContext:
    """The run's fixed configuration, handed to every node as ``runtime.context``."""

    tools: dict[str, Tool] = field(default_factory=dict)
    planner: Planner | None = None
    captioner: Captioner | None = None
    max_rounds: int = 6
    max_queries_per_round: int = 16
    budget: Budget = field(default_factory=Budget)
    observer_timeout: float = 900.0
    services: RunServices = field(default_factory=RunServices)
    captioner_options: dict[str, Any] = field(default_factory=dict)


class DetectiveInput(TypedDict):
    """What a run starts from."""

    media: MediaInfo


class DetectiveOutput(TypedDict, total=False):
    """What a run returns."""

    caption: Caption
    caption_markdown: str
    evidence: Evidence
    trajectory: list[dict[str, Any]]
    rounds: list[RoundRecord]
    stop_reason: str
    notes: list[str]
    caption_prompt_hash: str | None


class DetectiveState(TypedDict, total=False):
    """The internal state: evidence merges through its reducer, rounds and notes accumulate."""

    media: MediaInfo
    evidence: Annotated[Evidence, reduce_evidence]
    round: int
    planned: list[Query]
    queries: list[Query]
    last_queries: list[Query]
    finished: bool
    stop_reason: str
    started: float
    trajectory: list[dict[str, Any]]
    rounds: Annotated[list[RoundRecord], operator.add]
    notes: Annotated[list[str], operator.add]
    caption: Caption
    caption_markdown: str
    caption_prompt_hash: str | None
    fallback_since: int  # the round the planner fell back to the rule planner at (0 or absent: it has not)
    plan_note: str  # what the round's planning needs the record to say (a fallback)


class ObserveTask(TypedDict):
    """The payload of one ``Send`` to ``observe``: one query about one clip."""

    media: MediaInfo
    query: Query
    round: int
