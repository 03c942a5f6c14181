"""Watching a run: typed events from Detective.astream()/stream(), and run() inside a running event loop."""

from __future__ import annotations

import asyncio

from detective.agent.detective import Detective
from detective.agent.events import Captioned, ContradictionFound, Finished, Observed, RoundPlanned
from detective.models import MediaInfo
from detective.testing.fakes import ASRTool, OCRTool, ShotsTool


def detective() -> Detective:
    return Detective(tools=[ShotsTool(), OCRTool(), ASRTool()], planner="rule", captioner="evidence", offline=True)


def test_astream_tells_the_investigation_as_it_happens(video: MediaInfo) -> None:
    async def collect() -> list:
        return [e async for e in detective().astream(video.source, media=video)]

    events = asyncio.run(collect())
    kinds = [e.kind for e in events]
    assert kinds[0] == "round_planned" and kinds[-2:] == ["caption", "finished"]
    planned = [e for e in events if isinstance(e, RoundPlanned)]
    assert [e.round for e in planned] == [1, 2, 3, 4] and planned[-1].finish
    assert sorted(q.tool for q in planned[0].queries) == ["asr", "shots"]
    observed = [e for e in events if isinstance(e, Observed)]
    assert sorted((e.round, e.tool) for e in observed) == [(1, "asr"), (1, "shots"), (2, "ocr"), (3, "asr"), (3, "ocr")]
    assert all(e.observations and e.failure is None for e in observed)
    # the Jon Smyth / John Smith disagreement shows up once, after round 2 brought the OCR, before the re-check
    (contradiction,) = [e for e in events if isinstance(e, ContradictionFound)]
    rel = contradiction.relation
    assert (rel.tools, rel.a_says, rel.b_says) == (("asr", "ocr"), "Jon Smyth", "John Smith")
    position = events.index(contradiction)
    assert any(isinstance(e, Observed) and e.tool == "ocr" and e.round == 2 for e in events[:position])
    assert not any(isinstance(e, Observed) and e.round == 3 for e in events[:position])
    (captioned,) = [e for e in events if isinstance(e, Captioned)]
    result = events[-1].result  # type: ignore[union-attr]
    assert captioned.markdown == result.caption_markdown and captioned.stop_reason == result.stop_reason
    assert result.usage.tool_calls == {"shots": 1, "asr": 2, "ocr": 2}


def test_stream_from_synchronous_code_matches_arun(video: MediaInfo) -> None:
    events = list(detective().stream(video.source, media=video))
    assert isinstance(events[-1], Finished)
    again = asyncio.run(detective().arun(video.source, media=video))
    assert events[-1].result.caption_markdown == again.caption_markdown


def test_run_inside_a_running_event_loop_works(video: MediaInfo) -> None:
    """A Jupyter cell runs inside an event loop: run() then goes to a worker thread instead of failing."""

    async def cell() -> str:
        return detective().run(video.source, media=video).caption_markdown

    assert "John Smith" in asyncio.run(cell())


def test_a_stream_abandoned_early_ends_cleanly(video: MediaInfo) -> None:
    for event in detective().stream(video.source, media=video):
        assert isinstance(event, RoundPlanned)
        break


def test_arun_streams_only_the_values_it_returns(video: MediaInfo, monkeypatch) -> None:
    """arun needs the final state alone: it runs the graph with ``ainvoke`` (LangGraph's ``values`` only, the nodes'
    stream writer a no-op), while astream asks for the ``custom`` events too; both give the same result."""
    import detective.agent.detective as detective_module

    calls: list[tuple[str, list[str] | None]] = []
    real = detective_module.graph

    class Recording:
        def astream(self, *args, **kwargs):
            calls.append(("astream", list(kwargs["stream_mode"])))
            return real.astream(*args, **kwargs)

        async def ainvoke(self, *args, **kwargs):
            calls.append(("ainvoke", kwargs.get("stream_mode")))
            return await real.ainvoke(*args, **kwargs)

    monkeypatch.setattr(detective_module, "graph", Recording())
    result = asyncio.run(detective().arun(video.source, media=video))

    async def streamed():
        return [e async for e in detective().astream(video.source, media=video)][-1].result

    other = asyncio.run(streamed())
    assert calls == [("ainvoke", None), ("astream", ["custom", "values"])]
    assert result.caption_markdown == other.caption_markdown and result.rounds == other.rounds
    assert result.evidence == other.evidence and result.stop_reason == other.stop_reason
