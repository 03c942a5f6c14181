"""The ``audio_llm`` and ``vision_llm`` observers against a mocked OpenAI-compatible endpoint (respx)."""

from __future__ import annotations

import base64
import io
import itertools
import json
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import respx
from detective_audio_llm import AudioLLMTool
from detective_audio_llm.tool import SYSTEM_PROMPT as AUDIO_PROMPT
from detective_vision_llm import VisionLLMTool, sample_times

from detective.llm.settings import Settings
from detective.media import probe, wav_bytes
from detective.models import Query, TimeSpan
from detective.runtime import RunServices, use_services
from detective.testing.fakes import completion as chat_completion
from detective.tools import ToolError

URL = "https://llm.test/v1/chat/completions"


def completion(text: str, model: str = "qwen3-omni-flash") -> dict[str, Any]:
    """A minimal chat completion body."""
    return chat_completion(text, model=model, prompt_tokens=11, completion_tokens=7)


@pytest.fixture
def services() -> Iterator[RunServices]:
    """Run services pointed at the mocked endpoint; one attempt with no backoff keeps failure tests quick."""
    settings = Settings(api_key="sk-test-key", base_url="https://llm.test/v1", max_attempts=2, backoff=0.0)
    run = RunServices(settings=settings)
    with use_services(run):
        yield run


def bodies(route: respx.Route) -> list[dict[str, Any]]:
    """The JSON bodies the route received, in order."""
    return [json.loads(call.request.content) for call in route.calls]


def wav_seconds(data_url: str) -> tuple[float, int]:
    """Duration and sample rate of a ``data:audio/wav;base64,…`` URL."""
    prefix = "data:audio/wav;base64,"
    assert data_url.startswith(prefix)
    with wave.open(io.BytesIO(base64.b64decode(data_url[len(prefix) :]))) as wav:
        assert wav.getnchannels() == 1
        return wav.getnframes() / wav.getframerate(), wav.getframerate()


@respx.mock
async def test_audio_request_carries_the_span_as_wav_and_the_question(
    services: RunServices, fixture_media: dict[str, Any]
) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=completion("A man says hello.")))
    media = probe(fixture_media["clips"]["scene"]["path"])
    query = Query(tool="audio_llm", question="Who speaks?", span=TimeSpan(start=0.5, end=3.0))
    (obs,) = await AudioLLMTool().aobserve(media, query)
    (body,) = bodies(route)
    assert body["model"] == "qwen3-omni-flash"
    system, user = body["messages"]
    assert system == {"role": "system", "content": AUDIO_PROMPT}
    audio_part, span_part, question_part = user["content"]
    assert audio_part["type"] == "input_audio" and audio_part["input_audio"]["format"] == "wav"
    seconds, rate = wav_seconds(audio_part["input_audio"]["data"])
    assert rate == 16000 and seconds == pytest.approx(2.5, abs=0.01)
    assert span_part == {"type": "text", "text": "This audio is the clip from 00:00.500 to 00:03.000."}
    assert question_part == {"type": "text", "text": "Question: Who speaks?"}
    assert obs.kind == "description" and obs.tool == "audio_llm" and obs.content == "A man says hello."
    assert obs.span == TimeSpan(start=0.5, end=3.0)
    assert obs.payload.model == "qwen3-omni-flash" and obs.payload.question == "Who speaks?"
    assert services.usage.models["qwen3-omni-flash"].calls == 1


@respx.mock
async def test_long_audio_is_asked_in_30_second_chunks(services: RunServices, tmp_path: Path) -> None:
    t = np.arange(70 * 16000) / 16000
    path = tmp_path / "long.wav"
    path.write_bytes(wav_bytes((0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)))
    answers = iter(["first part", "second part", "third part"])
    route = respx.post(URL).mock(side_effect=lambda request: httpx.Response(200, json=completion(next(answers))))
    observations = await AudioLLMTool().aobserve(probe(str(path)), Query(tool="audio_llm", question="What is heard?"))
    sent = bodies(route)
    assert len(sent) == 3
    durations = sorted(wav_seconds(b["messages"][1]["content"][0]["input_audio"]["data"])[0] for b in sent)
    assert all(d <= 30.0 for d in durations) and sum(durations) == pytest.approx(70.0, abs=0.01)
    spans = sorted((o.span.start, o.span.end) for o in observations)
    assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(70.0)
    assert all(b - a <= 30.0 for a, b in spans)
    assert all(a[1] == pytest.approx(b[0]) for a, b in itertools.pairwise(spans))
    assert sorted(o.content for o in observations) == ["first part", "second part", "third part"]
    assert sorted(o.payload.chunk for o in observations) == [0, 1, 2]


@respx.mock
async def test_remote_audio_whole_clip_is_passed_by_url(services: RunServices, fixture_media: dict[str, Any]) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=completion("speech and a tone")))
    media = probe(fixture_media["clips"]["speech"]["path"]).model_copy(
        update={"source": "https://media.test/clips/speech.wav"}
    )
    (obs,) = await AudioLLMTool().aobserve(media, Query(tool="audio_llm", question="Describe it."))
    audio = bodies(route)[0]["messages"][1]["content"][0]["input_audio"]
    assert audio == {"data": "https://media.test/clips/speech.wav", "format": "wav"}
    assert obs.span == TimeSpan(start=0.0, end=media.duration)


@pytest.mark.parametrize(
    "failure",
    [httpx.Response(500, json={"error": {"message": "boom"}}), httpx.ReadTimeout("timed out")],
    ids=["http-500", "timeout"],
)
@respx.mock
async def test_endpoint_failures_become_tool_errors(
    failure: Any, services: RunServices, fixture_media: dict[str, Any]
) -> None:
    route = respx.post(URL)
    if isinstance(failure, Exception):
        route.mock(side_effect=failure)
    else:
        route.mock(return_value=failure)
    clip = fixture_media["clips"]["scene"]["path"]
    with pytest.raises(ToolError) as info:
        await AudioLLMTool().aobserve(probe(clip), Query(tool="audio_llm", question="Any music?"))
    message = str(info.value)
    assert message.startswith("audio_llm: ") and clip in message and "failed" in message
    assert ("500" in message) if not isinstance(failure, Exception) else ("Timeout" in message)
    assert "sk-test-key" not in message
    # retried once (max_attempts=2), then reported; a 500 to audio is checked once without the audio (the endpoint
    # failing that too is down, not refusing the audio)
    assert route.call_count == (3 if not isinstance(failure, Exception) else 2)
    with pytest.raises(ToolError, match=r"vision_llm: .*the vision model failed"):
        await VisionLLMTool().aobserve(probe(clip), Query(tool="vision_llm", question="What is shown?"))


@respx.mock
async def test_a_model_that_cannot_take_audio_is_found_out_once(
    services: RunServices, fixture_media: dict[str, Any]
) -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        parts = [
            p for m in json.loads(request.content)["messages"] if isinstance(m["content"], list) for p in m["content"]
        ]
        if any(p["type"] == "input_audio" for p in parts):
            return httpx.Response(500, json={"error": {"message": "Unknown content part type: input_audio"}})
        return httpx.Response(200, json=completion("OK"))

    route = respx.post(URL).mock(side_effect=respond)
    clip = probe(fixture_media["clips"]["scene"]["path"])
    with pytest.raises(ToolError) as info:
        await AudioLLMTool().aobserve(clip, Query(tool="audio_llm", question="Any music?"))
    message = str(info.value)
    assert message.startswith("audio_llm: unavailable for this run: observer model qwen3-omni-flash cannot take audio")
    assert clip.source not in message and "llm.test" not in message
    assert route.call_count == 3  # the audio request twice, then once without the audio
    assert services.capabilities.get(services.settings.endpoint("observer")).audio_input is False
    # the next query is refused at once, and every attempt so far is in the usage
    with pytest.raises(ToolError, match="unavailable for this run"):
        await AudioLLMTool().aobserve(clip, Query(tool="audio_llm", question="Any speech?"))
    assert route.call_count == 3
    usage = services.usage.models["qwen3-omni-flash"]
    assert (usage.calls, usage.failed_calls) == (3, 2)


async def test_no_question_and_no_audio_are_tool_errors(services: RunServices, fixture_media: dict[str, Any]) -> None:
    scene = probe(fixture_media["clips"]["scene"]["path"])
    with pytest.raises(ToolError, match="no question"):
        await AudioLLMTool().aobserve(scene, Query(tool="audio_llm"))
    silent = probe(fixture_media["clips"]["silent"]["path"])
    assert not AudioLLMTool().applies_to(silent)
    with pytest.raises(ToolError, match="no audio"):
        await AudioLLMTool().aobserve(silent, Query(tool="audio_llm", question="?"))
    speech = probe(fixture_media["clips"]["speech"]["path"])
    assert not VisionLLMTool().applies_to(speech)


@respx.mock
async def test_vision_request_has_timed_frames_then_the_question(
    services: RunServices, fixture_media: dict[str, Any]
) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=completion("White text on navy.")))
    clip = fixture_media["clips"]["scene"]
    query = Query(tool="vision_llm", question="What text is shown?", span=TimeSpan(start=0.0, end=8.0))
    (obs,) = await VisionLLMTool().aobserve(probe(clip["path"]), query)
    (body,) = bodies(route)
    system, user = body["messages"]
    assert system["role"] == "system" and "visible" in system["content"]
    parts = user["content"]
    assert parts[-1] == {"type": "text", "text": "Question: What text is shown?"}
    frames = parts[:-1]
    assert len(frames) == 16  # 8 frames, each a label then an image
    labels, images = frames[0::2], frames[1::2]
    times = obs.payload.frame_times
    assert times == pytest.approx([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5], abs=0.04)
    for label, image, t in zip(labels, images, times, strict=True):
        assert label["type"] == "text" and label["text"] == f"Frame at 00:{int(t):02d}.{round(t % 1 * 1000):03d}"
        assert image["type"] == "image_url"
        url = image["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        from PIL import Image

        picture = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        assert picture.format == "JPEG" and max(picture.size) <= 768
    assert obs.span == TimeSpan(start=0.0, end=8.0) and obs.content == "White text on navy."
    assert obs.payload.question == "What text is shown?" and obs.payload.model == "qwen3-omni-flash"


def test_sample_times_spread_over_the_span() -> None:
    assert sample_times(TimeSpan(start=2.0, end=6.0), 8) == [2.25, 2.75, 3.25, 3.75, 4.25, 4.75, 5.25, 5.75]
    assert sample_times(TimeSpan(start=0.0, end=1.0), 8) == [0.25, 0.75]  # at most one per 0.5 s
    assert sample_times(TimeSpan(start=3.0, end=3.2), 8) == [3.1]
