"""What a run reports as it goes: typed events built on LangGraph's streaming.

:meth:`Detective.astream <detective.agent.detective.Detective.astream>` and ``stream`` yield, in order of happening:

- :class:`RoundPlanned`: the planner's decision for a round (its queries, or that the case is closed);
- :class:`Observed`: one observer's answer to one query (its observations, or its failure);
- :class:`ContradictionFound`: two observers disagree (a relation that just appeared on the evidence board);
- :class:`Captioned`: the caption and why the investigation stopped;
- :class:`Finished`: the whole :class:`~detective.models.RunResult`, last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, Field

from detective.models import Caption, Evidence, Observation, Query, Relation, RunResult, ToolFailure

__all__ = [
    "Captioned",
    "ContradictionFound",
    "DetectiveEvent",
    "Finished",
    "Observed",
    "RoundPlanned",
    "events_of",
]


class RoundPlanned(BaseModel):
    """The planner decided a round: the queries it asked for, or that the case is closed."""

    kind: Literal["round_planned"] = "round_planned"
    round: int
    queries: list[Query] = Field(default_factory=list)
    finish: bool = Field(default=False, description="The planner closed the case.")
    rationale: str = ""


class Observed(BaseModel):
    """One observer answered one query (or failed to)."""

    kind: Literal["observation"] = "observation"
    round: int
    tool: str
    query_key: str
    observations: list[Observation] = Field(default_factory=list)
    failure: ToolFailure | None = None


class ContradictionFound(BaseModel):
    """Two observers disagree; the planner may re-check, the captioner writes from the settled board."""

    kind: Literal["contradiction"] = "contradiction"
    relation: Relation


class Captioned(BaseModel):
    """The caption is written."""

    kind: Literal["caption"] = "caption"
    caption: Caption
    markdown: str
    stop_reason: str


class Finished(BaseModel):
    """The run is over; ``result`` is what :meth:`Detective.arun` returns."""

    kind: Literal["finished"] = "finished"
    result: RunResult


DetectiveEvent = RoundPlanned | Observed | ContradictionFound | Captioned | Finished


async def events_of(chunks: AsyncIterator[Any], final: dict[str, Any]) -> AsyncIterator[DetectiveEvent]:
    """The events of the graph's ``astream(stream_mode=["custom", "values"])`` chunks.

    The nodes emit :class:`RoundPlanned`, :class:`Observed` and :class:`Captioned` themselves (LangGraph's stream
    writer, the ``custom`` mode); a :class:`ContradictionFound` is each relation new on the board after a step.
    ``final`` is filled with the last ``values`` chunk (the run's output) for the caller to build its result from.
    """
    seen: set[tuple[str, str, str, str]] = set()
    async for mode, chunk in chunks:
        if mode == "custom":
            if isinstance(chunk, RoundPlanned | Observed | Captioned):
                yield chunk
            continue
        final.clear()
        final.update(chunk)
        evidence: Evidence | None = chunk.get("evidence")
        for rel in evidence.contradictions if evidence else []:
            key = (*rel.tools, rel.a_says, rel.b_says)
            if key not in seen:
                seen.add(key)
                yield ContradictionFound(relation=rel)
