"""HybridPlanner, the online default: the local broad pass in round 1, then the LLM planner from the board."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

from detective.agent.detective import Detective
from detective.llm.settings import Settings
from detective.models import MediaInfo
from detective.testing.fakes import ASRTool, EchoTool, OCRTool, ShotsTool, completion

from .conftest import BASE_URL

URL = f"{BASE_URL}/chat/completions"


def bodies(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


@respx.mock
async def test_online_round_one_is_the_local_broad_pass_then_the_model_plans_from_the_board(
    settings: Settings, video: MediaInfo
) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(
                200,
                json=completion(
                    tool_calls=[
                        {"name": "echo", "arguments": {"question": "Who says the name?", "start": 1, "end": 3}},
                        {"name": "echo", "arguments": {"question": "What is the speaker's mood?"}},
                    ]
                ),
            ),
            httpx.Response(200, json=completion(tool_calls=[{"name": "finish", "arguments": {"reason": "done"}}])),
        ]
    )
    det = Detective(tools=[ShotsTool(), ASRTool(), OCRTool(), EchoTool()], captioner="evidence", settings=settings)
    assert det.provenance().planner == "hybrid"  # the default when online
    result = await det.arun("clip.mp4", media=video)
    # round 1: every local observer that builds on no other's pass, and the question tool's general description,
    # without a planner call; OCR (stage 1, on the shots) joins round 2 beside the model's first questions
    first, second = result.rounds[0], result.rounds[1]
    assert sorted(q.tool for q in first.ran) == ["asr", "echo", "shots"]
    assert [q.question for q in first.ran if q.tool == "echo"] == ["Describe the video in as much detail as possible."]
    assert sorted(q.tool for q in second.ran) == ["echo", "echo", "ocr"]
    assert route.call_count == 2  # rounds 2 and the finish: round 1 asked the model nothing
    # the model plans from the board's digest: the first turn carries what round 1 found
    opening = bodies(route)[0]["messages"][1]["content"]
    assert "broad pass" in opening and "Jon Smyth" in opening and "shot 1" in opening
    assert result.stop_reason == "planner finished: model called finish"
    # round 2's OCR result (not a tool call) reaches the model in the next turn's digest
    later = json.dumps(bodies(route)[1]["messages"])
    assert "John Smith" in later
    assert not result.evidence.failures


@respx.mock
async def test_planner_llm_keeps_the_pure_llm_planner(settings: Settings, video: MediaInfo) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=completion(tool_calls=[{"name": "shots"}, {"name": "asr"}])),
            httpx.Response(200, json=completion(tool_calls=[{"name": "finish"}])),
        ]
    )
    det = Detective(tools=[ShotsTool(), ASRTool(), EchoTool()], planner="llm", captioner="evidence", settings=settings)
    result = await det.arun("clip.mp4", media=video)
    assert [[q.tool for q in r.ran] for r in result.rounds] == [["shots", "asr"]]  # round 1: what the model asked
    assert "Please give the first question" in bodies(route)[0]["messages"][1]["content"]
