"""The compiled graph as LangGraph users call it: ``invoke``, ``stream``, ``ainvoke``, ``astream``, and early exits."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from detective.agent.config import DetectiveConfig, Toolbox
from detective.agent.graph import SERVICES_KEY, graph
from detective.llm.settings import Settings
from detective.models import MediaInfo
from detective.runtime import RunServices
from detective.testing.fakes import ASRTool, OCRTool, ShotsTool

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "media" / "demo.mp4"


def _config(video: MediaInfo) -> tuple[dict, dict]:
    """Input and run config of a run on the fakes (no file is decoded), handed in as a Detective hands them."""
    from detective.plugins import get_registry

    registry = get_registry()
    toolbox = Toolbox(
        tools={t.name: t for t in (ShotsTool(), OCRTool(), ASRTool())},
        planner=registry.make("planners", "rule"),
        captioner=registry.make("captioners", "evidence"),
    )
    services = RunServices(settings=Settings(offline=True), config=DetectiveConfig(offline=True), toolbox=toolbox)
    return {"media": video}, {"configurable": {SERVICES_KEY: services}}


def test_invoke_stream_ainvoke_and_astream_give_the_same_caption(video: MediaInfo) -> None:
    inp, _ = _config(video)
    sync = graph.invoke(inp, config=_config(video)[1])
    streamed = [c for c in graph.stream(inp, config=_config(video)[1], stream_mode="values")][-1]

    async def both() -> tuple[dict, dict]:
        done = await graph.ainvoke(inp, config=_config(video)[1])
        chunks = [c async for c in graph.astream(inp, config=_config(video)[1], stream_mode="values")]
        return done, chunks[-1]

    async_done, async_streamed = asyncio.run(both())
    assert "John Smith" in sync["caption_markdown"]
    assert sync["caption_markdown"] == streamed["caption_markdown"] == async_done["caption_markdown"]
    assert async_streamed["caption_markdown"] == sync["caption_markdown"]
    assert sync["stop_reason"] == async_done["stop_reason"]


def test_sync_stream_shows_each_round_s_plan_and_can_be_left_early(video: MediaInfo) -> None:
    inp, config = _config(video)
    updates = []
    for chunk in graph.stream(inp, config=config, stream_mode="updates"):
        updates.append(chunk)
        if "plan" in chunk:
            break
    assert [next(iter(u)) for u in updates] == ["open", "plan"]
    assert sorted(q.tool for q in updates[-1]["plan"]["planned"]) == ["asr", "shots"]


def test_the_nodes_emit_typed_events_in_custom_stream_mode(video: MediaInfo) -> None:
    from detective.agent.events import Captioned, Observed, RoundPlanned

    inp, config = _config(video)
    events = list(graph.stream(inp, config=config, stream_mode="custom"))
    assert all(isinstance(e, RoundPlanned | Observed | Captioned) for e in events)
    assert isinstance(events[0], RoundPlanned) and events[0].round == 1
    assert sorted(e.tool for e in events if isinstance(e, Observed) and e.round == 1) == ["asr", "shots"]
    assert isinstance(events[-1], Captioned) and "John Smith" in events[-1].markdown


def test_plain_input_runs_sync_on_a_real_clip() -> None:
    pytest.importorskip("detective_audio_events")
    context = DetectiveConfig(tools=["audio_events"], captioner="evidence", offline=True)
    out = graph.invoke({"source": str(DEMO)}, context=context)
    assert out["media"].has_audio and out["stop_reason"]
    assert any(o.tool == "audio_events" for o in out["evidence"].observations)


BREAK_OUT = """
import asyncio
from detective.agent.detective import Detective
from detective.models import MediaInfo
from detective.testing.fakes import ASRTool, OCRTool, ShotsTool

video = MediaInfo(source="clip.mp4", duration=10.0, has_audio=True, has_video=True, width=640, height=360,
                  fps=25.0, audio_sample_rate=16000)

async def main():
    detective = Detective(tools=[ShotsTool(), OCRTool(), ASRTool()], planner="rule", captioner="evidence",
                          offline=True)
    async for event in detective.astream(video.source, media=video):
        break
    print("left the stream")

asyncio.run(main())
for event in Detective(tools=[ShotsTool()], planner="rule", captioner="evidence", offline=True).stream(
    video.source, media=video
):
    break
print("left the sync stream")
"""


def test_breaking_out_of_astream_leaves_nothing_behind_at_shutdown() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(BREAK_OUT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["left", "the", "stream", "left", "the", "sync", "stream"]
    # once: "ValueError: <Token var=<ContextVar name='omni_detective_services'…> was created in a different
    # Context", and "Task was destroyed but it is pending!" for the graph's own stream
    assert "Traceback" not in proc.stderr and "Task was destroyed" not in proc.stderr, proc.stderr
