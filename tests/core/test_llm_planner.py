"""LLMPlanner through respx: function calling over several rounds, the JSON fallback, repairs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

from detective.agent.detective import Detective
from detective.agent.llm_planner import LLMPlanner
from detective.llm.settings import Settings
from detective.models import MediaInfo
from detective.testing.fakes import ASRTool, EchoTool, OCRTool, ShotsTool, completion

from .conftest import BASE_URL

URL = f"{BASE_URL}/chat/completions"


def bodies(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


@respx.mock
async def test_function_calling_loop_several_calls_per_round_then_finish(settings: Settings, video: MediaInfo) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=completion(tool_calls=[{"name": "shots"}, {"name": "asr"}])),
            httpx.Response(
                200,
                json=completion(
                    tool_calls=[
                        {"name": "ocr", "arguments": {"start": 0.5, "end": 3.5}},
                        {"name": "echo", "arguments": {"question": "Who speaks at 00:01?", "start": 1, "end": 3}},
                    ]
                ),
            ),
            httpx.Response(200, json=completion(tool_calls=[{"name": "finish", "arguments": {"reason": "done"}}])),
        ]
    )
    det = Detective(
        tools=[ShotsTool(), ASRTool(), OCRTool(), EchoTool()], planner="llm", captioner="evidence", settings=settings
    )
    result = await det.arun("clip.mp4", media=video)
    assert route.call_count == 3
    sent = bodies(route)
    names = [t["function"]["name"] for t in sent[0]["tools"]]
    assert names == ["shots", "asr", "ocr", "echo", "finish"]
    # round 2 sees the observations of round 1 as tool messages answering its calls
    tool_msgs = [m for m in sent[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["call_0_shots", "call_1_asr"]
    assert "shot 1" in tool_msgs[0]["content"] and "Jon Smyth" in tool_msgs[1]["content"]
    # round 3 is told of the contradiction between ASR and OCR
    assert "CONTRADICTION" in sent[2]["messages"][-1]["content"]
    assert result.stop_reason == "planner finished: model called finish"
    assert [sorted(q.tool for q in r.ran) for r in result.rounds] == [["asr", "shots"], ["echo", "ocr"]]
    echo = result.evidence.by_tool("echo")[0]
    assert echo.content == "answer to: Who speaks at 00:01?" and echo.span.start == 1.0
    assert result.usage.llm_calls == 3
    # the trajectory is OpenAI-format: every tool call is answered, then the closing request
    roles = [m["role"] for m in result.trajectory]
    assert roles[:2] == ["system", "user"] and roles[-1] == "user"
    assert result.trajectory[-2] == {"role": "tool", "tool_call_id": "call_0_finish", "content": "Case closed."}
    assert result.provenance.planner == "llm" and result.provenance.models["planner"]


@respx.mock
async def test_json_fallback_accepts_upstream_form_lists_and_fences(settings: Settings, audio: MediaInfo) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=completion('{"tool_name": "echo", "question": "What language?"}')),
            httpx.Response(
                200,
                json=completion(
                    'Sure!\n```json\n[{"tool_name": "echo", "question": "Accent?"},{"tool_name": "asr"}]\n```'
                ),
            ),
            httpx.Response(200, json=completion('{"finish": true}')),
        ]
    )
    det = Detective(
        tools=[EchoTool(), ASRTool()],
        captioner="evidence",
        settings=settings,
        planner=__import__("detective.agent.llm_planner", fromlist=["x"]).LLMPlanner(function_calling=False),
    )
    result = await det.arun("clip.wav", media=audio)
    sent = bodies(route)
    assert "tools" not in sent[0]
    assert '"tool_name": "echo"' in sent[0]["messages"][0]["content"]
    assert sent[1]["messages"][-1]["content"] == (
        "Observation: answer to: What language?\nInquiries remaining: 5 \nTool and Question:"
    )
    assert [sorted(q.tool for q in r.ran) for r in result.rounds] == [["echo"], ["asr", "echo"]]
    assert result.trajectory[-1]["content"].endswith(
        "The investigation is complete. Please give the detailed description of the audio clip."
    )


@respx.mock
async def test_endpoint_without_function_calling_falls_back_to_json(settings: Settings, audio: MediaInfo) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(400, json={"error": {"message": "tools are not supported"}}),
            httpx.Response(200, json=completion('{"tool_name": "echo", "question": "Describe it."}')),
            httpx.Response(200, json=completion('{"finish": true}')),
        ]
    )
    result = await Detective(tools=[EchoTool()], planner="llm", captioner="evidence", settings=settings).arun(
        "clip.wav", media=audio
    )
    sent = bodies(route)
    assert "tools" in sent[0] and "tools" not in sent[1]
    assert "tool_name" in sent[1]["messages"][0]["content"]
    assert result.usage.tool_calls == {"echo": 1}


@respx.mock
async def test_unusable_replies_are_repaired_a_bounded_number_of_times(settings: Settings, audio: MediaInfo) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=completion("I think we should listen more.")),
            httpx.Response(200, json=completion('{"tool_name": "nonexistent", "question": "?"}')),
            httpx.Response(200, json=completion("still not JSON")),
        ]
    )
    from detective.agent.llm_planner import LLMPlanner

    det = Detective(
        tools=[EchoTool()], planner=LLMPlanner(function_calling=False), captioner="evidence", settings=settings
    )
    result = await det.arun("clip.wav", media=audio)
    assert route.call_count == 3
    sent = bodies(route)
    assert "unknown tool_name 'nonexistent'" in sent[2]["messages"][-1]["content"]
    # each repair replaces the previous one: the prompt does not grow with the bad replies
    assert len(sent[1]["messages"]) == len(sent[2]["messages"]) == len(sent[0]["messages"]) + 2
    # the clip is not left unexamined: the rule planner's broad pass runs every observer, and the record says so
    assert result.usage.tool_calls == {"echo": 1}
    assert any("llm planner could not plan" in n and "rule planner's broad pass" in n for n in result.notes)
    assert "stayed unusable after 2 repairs" in result.rounds[0].note


@respx.mock
async def test_planner_failure_falls_back_and_never_aborts_the_caption(settings: Settings, audio: MediaInfo) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(503))
    det = Detective(
        tools=[EchoTool(), ASRTool()],
        planner="llm",
        captioner="evidence",
        settings=settings.model_copy(update={"max_attempts": 2}),
    )
    result = await det.arun("clip.wav", media=audio)
    assert route.call_count == 2
    # every attempt is counted, the failed ones too
    usage = result.usage.models["gpt-4.1-2025-04-14"]
    assert (usage.calls, usage.failed_calls) == (2, 2)
    assert result.usage.tool_calls == {"asr": 1, "echo": 1}
    assert result.caption_markdown
    (note,) = [n for n in result.notes if "could not plan" in n]
    assert "failed after 2 attempt" in note and "rule planner's broad pass ran instead" in note


@respx.mock
async def test_planner_that_closes_the_case_unexamined_falls_back(settings: Settings, audio: MediaInfo) -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json=completion(tool_calls=[{"name": "finish"}])))
    result = await Detective(tools=[ASRTool()], planner="llm", captioner="evidence", settings=settings).arun(
        "clip.wav", media=audio
    )
    assert result.usage.tool_calls == {"asr": 1}
    assert any("closed the case before asking any observer" in n for n in result.notes)


@respx.mock
async def test_ignored_tools_switch_the_run_to_json_replies(settings: Settings, audio: MediaInfo) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=completion("I would like to listen to the audio first.")),
            httpx.Response(200, json=completion('{"tool_name": "echo", "question": "Describe it."}')),
            httpx.Response(200, json=completion('{"finish": true}')),
        ]
    )
    result = await Detective(tools=[EchoTool()], planner="llm", captioner="evidence", settings=settings).arun(
        "clip.wav", media=audio
    )
    sent = bodies(route)
    assert "tools" in sent[0] and "tools" not in sent[1] and "tools" not in sent[2]
    assert '"tool_name": "echo"' in sent[1]["messages"][0]["content"]
    assert result.usage.tool_calls == {"echo": 1}
    assert not [n for n in result.notes if "could not plan" in n]


@respx.mock
async def test_context_overflow_is_not_taken_for_a_function_calling_refusal(
    settings: Settings, audio: MediaInfo
) -> None:
    overflow = {
        "error": {
            "message": "This model's maximum context length is 900 tokens. However, your messages resulted in "
            "1200 tokens. Please reduce the length of the messages.",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
    }
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(400, json=overflow),
            httpx.Response(200, json=completion(tool_calls=[{"name": "echo", "arguments": {"question": "What?"}}])),
            httpx.Response(200, json=completion(tool_calls=[{"name": "finish"}])),
        ]
    )
    det = Detective(tools=[EchoTool()], planner="llm", captioner="evidence", settings=settings)
    result = await det.arun("clip.wav", media=audio)
    sent = bodies(route)
    assert all("tools" in body for body in sent)  # still function calling: an overflow is not a refusal
    assert route.call_count == 3 and result.usage.tool_calls == {"echo": 1}
    endpoint = settings.endpoint("planner")
    assert det.capabilities.get(endpoint).context_size == 900


@respx.mock
async def test_a_model_that_has_called_functions_is_repaired_not_switched(settings: Settings, audio: MediaInfo) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=completion(tool_calls=[{"name": "echo", "arguments": {"question": "What?"}}])),
            httpx.Response(200, json=completion("Let me think about what to ask next.")),
            httpx.Response(200, json=completion(tool_calls=[{"name": "finish"}])),
        ]
    )
    await Detective(tools=[EchoTool()], planner="llm", captioner="evidence", settings=settings).arun(
        "clip.wav", media=audio
    )
    sent = bodies(route)
    assert all("tools" in body for body in sent)
    assert sent[2]["messages"][-1]["content"].startswith("Your reply could not be used")


class RealShots(ShotsTool):
    """The fake shots tool with the real tool's arguments (``threshold`` from 1 to 100)."""

    from detective_shots.tool import ShotsInput as input_model


class RealOCR(OCRTool):
    """The fake OCR tool with the real tool's arguments (``every`` 0 needs ``times``)."""

    from detective_ocr.tool import OCRInput as input_model


@respx.mock
async def test_invalid_tool_arguments_go_back_to_the_planner_which_repairs_them(
    settings: Settings, video: MediaInfo
) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(
                200,
                json=completion(
                    tool_calls=[
                        {"name": "shots", "arguments": {"threshold": 0}},
                        {"name": "ocr", "arguments": {"every": 0}},
                        {"name": "asr"},
                    ]
                ),
            ),
            httpx.Response(
                200,
                json=completion(
                    tool_calls=[
                        {"name": "shots", "arguments": {"threshold": 20}},
                        {"name": "ocr", "arguments": {"every": 1}},
                        {"name": "asr"},
                    ]
                ),
            ),
            httpx.Response(200, json=completion(tool_calls=[{"name": "finish", "arguments": {"reason": "done"}}])),
        ]
    )
    det = Detective(tools=[RealShots(), RealOCR(), ASRTool()], planner="llm", captioner="evidence", settings=settings)
    result = await det.arun("clip.mp4", media=video)
    assert route.call_count == 3
    repair = bodies(route)[1]["messages"]
    answers = {m["tool_call_id"]: m["content"] for m in repair if m["role"] == "tool"}
    assert "threshold: Input should be greater than or equal to 1" in answers["call_0_shots"]
    assert "`every` is 0 and no `times` were given" in answers["call_1_ocr"]
    assert answers["call_2_asr"].startswith("Not run yet")
    assert not result.evidence.failures and not any("failed" in n for n in result.notes)
    assert [sorted(q.tool for q in r.ran) for r in result.rounds] == [["asr", "ocr", "shots"]]
    assert [q.arguments for q in result.rounds[0].ran if q.tool == "shots"] == [{"threshold": 20}]
    assert result.evidence.by_tool("shots") and result.evidence.by_tool("ocr")
    assert result.usage.tool_calls == {"shots": 1, "ocr": 1, "asr": 1}  # no observer ever saw the bad arguments


@respx.mock
async def test_invalid_arguments_in_json_mode_get_a_repair_message(settings: Settings, video: MediaInfo) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, json=completion('{"tool_name": "shots", "threshold": 0}')),
            httpx.Response(200, json=completion('{"tool_name": "shots", "threshold": 30}')),
            httpx.Response(200, json=completion('{"finish": true}')),
        ]
    )
    det = Detective(
        tools=[RealShots()], planner=LLMPlanner(function_calling=False), captioner="evidence", settings=settings
    )
    result = await det.arun("clip.mp4", media=video)
    repair = bodies(route)[1]["messages"][-1]["content"]
    assert "invalid arguments for shots: threshold: Input should be greater than or equal to 1" in repair
    assert not result.evidence.failures and result.evidence.by_tool("shots")
    assert [q.arguments for q in result.rounds[0].ran] == [{"threshold": 30}]


@respx.mock
async def test_calls_that_stay_invalid_are_not_run_and_the_valid_ones_are(settings: Settings, video: MediaInfo) -> None:
    bad = completion(tool_calls=[{"name": "shots", "arguments": {"threshold": 0}}, {"name": "ocr"}, {"name": "asr"}])
    route = respx.post(URL).mock(
        side_effect=[httpx.Response(200, json=bad)] * 3
        + [httpx.Response(200, json=completion(tool_calls=[{"name": "finish"}]))]
    )
    det = Detective(tools=[RealShots(), RealOCR(), ASRTool()], planner="llm", captioner="evidence", settings=settings)
    result = await det.arun("clip.mp4", media=video)
    assert route.call_count == 4
    assert [[q.tool for q in r.ran] for r in result.rounds] == [["ocr", "asr"]]
    assert any("still invalid" in n and "threshold" in n for n in result.notes)
    assert not result.evidence.failures
    # the next turn answers the invalid call as not run, with why
    answers = [m["content"] for m in bodies(route)[3]["messages"] if m["role"] == "tool"]
    assert any(a.startswith("Error: invalid arguments, not run: threshold") for a in answers)
