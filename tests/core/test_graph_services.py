"""Where a run's services live: in its run config, never in a table of the process; a run that brings none
(Studio, ``graph.invoke``) gets its own, and one resumed from a checkpoint sets them up again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from detective.agent.config import DetectiveConfig
from detective.agent.graph import SERVICES_KEY, compile_graph, graph, services_of, with_services
from detective.runtime import RunServices

DEMO = Path(__file__).resolve().parents[2] / "examples" / "media" / "demo.mp4"


def test_services_travel_in_the_run_config() -> None:
    mine = RunServices()
    config = {"configurable": {SERVICES_KEY: mine, "thread_id": "t"}}
    assert with_services(config) is config and services_of(with_services(config)) is mine  # type: ignore[arg-type]
    fresh = with_services({"configurable": {"thread_id": "t"}})
    assert isinstance(services_of(fresh), RunServices) and fresh["configurable"]["thread_id"] == "t"
    assert services_of(with_services(None)) is not services_of(with_services(None))
    with pytest.raises(RuntimeError, match=SERVICES_KEY):
        services_of({})


def test_concurrent_runs_without_services_each_get_their_own() -> None:
    pytest.importorskip("detective_audio_events")
    context = DetectiveConfig(tools=["audio_events"], captioner="evidence", offline=True, max_rounds=1)

    async def two() -> list[dict]:
        runs = [graph.ainvoke({"source": str(DEMO)}, context=context) for _ in range(2)]
        return await asyncio.gather(*runs)

    outs = asyncio.run(two())
    # one usage meter per run: a shared one would count both runs' calls in each
    assert [o["usage"].tool_calls for o in outs] == [{"audio_events": 1}, {"audio_events": 1}]


def test_a_run_resumed_from_its_checkpoint_sets_its_services_up_again() -> None:
    pytest.importorskip("detective_audio_events")
    resumable = compile_graph(checkpointer=InMemorySaver(), interrupt_before=["synthesize"])
    context = DetectiveConfig(tools=["audio_events"], captioner="evidence", offline=True, max_rounds=1)
    thread = {"configurable": {"thread_id": "resume"}}
    first = resumable.invoke({"source": str(DEMO)}, thread, context=context)
    assert "caption_markdown" not in first  # stopped before the caption
    done = resumable.invoke(None, thread, context=context)  # a new call: fresh services, `open` does not run again
    assert done["caption_markdown"] and done["stop_reason"]
    assert {o.tool for o in done["evidence"].observations} == {"audio_events"}
