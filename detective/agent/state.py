"""State of the Detective graph: what a run starts from, what changes during it, and what it returns.

The configuration of a run is not state: it is :class:`detective.agent.config.DetectiveConfig`, the graph's
``context_schema``. Per-run services (usage meter, cache, clients, the resolved tool box) live in the run's
:class:`detective.runtime.RunServices`, which travels in the run config (``detective.agent.graph.SERVICES_KEY``),
never in the state.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any

from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12 (Studio serves these schemas)

from detective.agent.config import Budget
from detective.evidence.board import reduce_evidence
from detective.models import Caption, Evidence, Grounding, MediaInfo, Query, RoundRecord, Usage

__all__ = ["Budget", "DetectiveInput", "DetectiveOutput", "DetectiveState", "FanOutInput", "ObserveTask", "RouteInput"]


class DetectiveInput(TypedDict, total=False):
    """What a run starts from: a clip's ``source`` (a local path or an http(s) URL), or its probed ``media``."""

    source: str
    media: MediaInfo


class DetectiveOutput(TypedDict, total=False):
    """What a run returns. ``round``, ``planned`` and ``queries`` are there so that a server that streams only
    the output's keys (LangGraph's API, which Studio uses) shows each round's number, plan and queries in its
    ``updates`` stream; in the final state they are the last round's (``queries`` is empty once it ran)."""

    media: MediaInfo
    round: int
    planned: list[Query]
    queries: list[Query]
    caption: Caption
    caption_markdown: str
    evidence: Evidence
    trajectory: list[dict[str, Any]]
    rounds: list[RoundRecord]
    stop_reason: str
    notes: list[str]
    caption_prompt_hash: str | None
    grounding: Grounding | None
    usage: Usage


class DetectiveState(TypedDict, total=False):
    """The internal state: evidence merges through its reducer, rounds and notes accumulate."""

    source: str
    media: MediaInfo
    evidence: Annotated[Evidence, reduce_evidence]
    round: int
    planned: list[Query]
    queries: list[Query]
    last_queries: list[Query]
    planner_done: str | None
    stop_reason: str
    trajectory: list[dict[str, Any]]
    rounds: Annotated[list[RoundRecord], operator.add]
    notes: Annotated[list[str], operator.add]
    caption: Caption
    caption_markdown: str
    caption_prompt_hash: str | None
    grounding: Grounding | None
    usage: Usage
    fallback_since: int  # the round the planner fell back to the rule planner at (0 or absent: it has not)
    plan_note: str  # what the round's planning needs the record to say (a fallback)


class RouteInput(TypedDict, total=False):
    """What the loop's router reads of the state (:func:`detective.agent.graph.stop_reason`). LangGraph reads a
    branch's channels with the step's writes applied: given the whole state, it would merge the step's evidence
    update into a copy of the board, a second merge of every round's answers before the real one."""

    round: int
    last_queries: list[Query]
    planner_done: str | None


class FanOutInput(TypedDict, total=False):
    """What the round's fan-out reads of the state: the queries to send, with the clip and the round (a branch
    reads its input schema's channels only; see :class:`RouteInput`)."""

    media: MediaInfo
    queries: list[Query]
    round: int


class ObserveTask(TypedDict):
    """The payload of one ``Send`` to ``observe``: one query about one clip, in one run."""

    media: MediaInfo
    query: Query
    round: int
