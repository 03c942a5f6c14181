"""The direct captioner's requests and stitching, against a mocked endpoint (respx)."""

from __future__ import annotations

import base64
import io
import json
import wave
from pathlib import Path

import httpx
import numpy as np
import pytest
import respx
from detective_captioning.direct import PROSE_ONLY, DirectCaptioner
from detective_captioning.format import parse
from detective_captioning.prompts import AUDIO_PROMPT, AUDIO_VIDEO_PROMPT

from detective.captioning import CaptionJob
from detective.llm.settings import RoleSettings, Settings
from detective.media import probe, wav_bytes
from detective.models import Evidence, MediaInfo, TimeSpan
from detective.runtime import RunServices, use_services
from detective.testing.fakes import completion as chat_completion

URL = "https://llm.test/v1/chat/completions"
SR = 16000
CAPTIONER = "qwen3-omni-30b-a3b-captioner"


def completion(content: str) -> httpx.Response:
    return httpx.Response(200, json=chat_completion(content))


def services(model: str | None = None) -> RunServices:
    roles = {"direct": RoleSettings(model=model)} if model else {}
    return RunServices(settings=Settings(api_key="sk-test", base_url="https://llm.test/v1", backoff=0, roles=roles))


def write_wav(path: Path, pieces: list[tuple[float, float]]) -> MediaInfo:
    """A WAV of consecutive sine tones: ``(seconds, frequency)`` pieces."""
    signal = np.concatenate([0.3 * np.sin(2 * np.pi * f * np.arange(int(s * SR)) / SR) for s, f in pieces])
    path.write_bytes(wav_bytes(signal.astype(np.float32), SR))
    return probe(str(path))


def decode(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:audio/wav;base64,")
    with wave.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))) as wav:
        assert wav.getframerate() == SR and wav.getnchannels() == 1
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32767


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / SR)[int(np.argmax(spectrum))])


STRUCTURED = """## Storyline
00:00.000 - 00:02.000
A steady high tone plays.

## Speakers and Transcript
No speech appears in the audio.
"""


@respx.mock
async def test_audio_with_prompt(tmp_path: Path) -> None:
    media = write_wav(tmp_path / "tone.wav", [(2.0, 440.0)])
    route = respx.post(URL).mock(return_value=completion(STRUCTURED))
    with use_services(services()):
        out = await DirectCaptioner().caption(CaptionJob(media=media, evidence=Evidence()))
    assert route.call_count == 1
    body = json.loads(route.calls[0].request.content)
    assert body["model"] == "qwen3-omni-flash"
    (message,) = body["messages"]
    audio, text = message["content"]
    assert audio["type"] == "input_audio" and audio["input_audio"]["format"] == "wav"
    samples = decode(audio["input_audio"]["data"])
    assert abs(samples.size / SR - 2.0) < 0.01 and abs(dominant_hz(samples) - 440.0) < 2
    assert text == {"type": "text", "text": AUDIO_PROMPT}
    assert out.caption.storyline[0].text == "A steady high tone plays."
    assert out.caption.visible_text is None and out.notes == []
    assert "omitted" in json.dumps(out.trajectory) and "base64," not in json.dumps(out.trajectory)


@respx.mock
async def test_local_video_goes_as_a_data_url(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a movie")
    media = MediaInfo(source=str(clip), path=str(clip), duration=4.0, has_audio=True, has_video=True)
    route = respx.post(URL).mock(return_value=completion("A short, unstructured answer."))
    with use_services(services()):
        out = await DirectCaptioner().caption(CaptionJob(media=media, evidence=Evidence()))
    video, text = json.loads(route.calls[0].request.content)["messages"][0]["content"]
    assert video == {
        "type": "video_url",
        "video_url": {"url": "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()},
    }
    assert text["text"] == AUDIO_VIDEO_PROMPT
    # A reply without the structure is kept whole, as one segment, with a note.
    assert [(s.span.start, s.span.end, s.text) for s in out.caption.storyline] == [
        (0.0, 4.0, "A short, unstructured answer.")
    ]
    assert any("no timed storyline" in n for n in out.notes)


@respx.mock
async def test_remote_video_goes_as_its_url() -> None:
    media = MediaInfo(source="https://media.test/clip.mp4", duration=4.0, has_audio=True, has_video=True)
    route = respx.post(URL).mock(return_value=completion(STRUCTURED))
    with use_services(services()):
        await DirectCaptioner().caption(CaptionJob(media=media, evidence=Evidence()))
    video, _ = json.loads(route.calls[0].request.content)["messages"][0]["content"]
    assert video == {"type": "video_url", "video_url": {"url": "https://media.test/clip.mp4"}}


CHUNK_REPLIES = {
    300.0: "00:00.000 - 00:05.000\nA low 300 Hz hum starts.\n00:05.000 - 00:23.000\nThe hum goes on.",
    600.0: "A steady middle tone fills the whole stretch, without any change.",
    900.0: "## Storyline\n00:02.000 - 00:04.000\nA high whistle.\n\n## Notes\nClean recording.",
}


def reply_by_pitch(request: httpx.Request) -> httpx.Response:
    (message,) = json.loads(request.content)["messages"]
    (part,) = message["content"]
    pitch = dominant_hz(decode(part["input_audio"]["data"]))
    return completion(CHUNK_REPLIES[min(CHUNK_REPLIES, key=lambda f: abs(f - pitch))])


@pytest.mark.parametrize("model, options", [(CAPTIONER, {}), ("qwen3-omni-flash", {"no_prompt": True})])
@respx.mock
async def test_captioner_model_chunks_long_audio(tmp_path: Path, model: str, options: dict) -> None:
    third = 70.0 / 3
    media = write_wav(tmp_path / "long.wav", [(third, 300.0), (third, 600.0), (third, 900.0)])
    assert abs(media.duration - 70.0) < 0.01
    route = respx.post(URL).mock(side_effect=reply_by_pitch)
    with use_services(services(model)):
        out = await DirectCaptioner().caption(CaptionJob(media=media, evidence=Evidence(), options=options))
    assert route.call_count == 3
    for call in route.calls:
        body = json.loads(call.request.content)
        assert body["model"] == model
        assert body["temperature"] == 0.6 and body["top_p"] == 0.95 and body["top_k"] == 20
        (message,) = body["messages"]
        (part,) = message["content"]  # audio only: no text part at all
        assert part["type"] == "input_audio"
        assert decode(part["input_audio"]["data"]).size / SR <= 30.0
    spans = [(round(s.span.start, 3), round(s.span.end, 3), s.text) for s in out.caption.storyline]
    assert spans == [
        (0.0, 5.0, "A low 300 Hz hum starts."),
        (5.0, 23.0, "The hum goes on."),
        (23.333, 46.667, CHUNK_REPLIES[600.0]),
        (48.667, 50.667, "A high whistle."),
    ]
    assert [s.title for s in out.caption.sections] == ["Notes (00:46.667 - 01:10.000)"]
    assert out.caption.visible_text is None and out.prompt_hash is None
    assert PROSE_ONLY in out.markdown and "No speech appears" not in out.markdown
    assert parse(out.markdown) == out.caption
    assert [m["role"] for m in out.trajectory] == ["user", "assistant"] * 3


@respx.mock
async def test_captioner_model_shifts_transcript_and_clamps_to_the_chunk(tmp_path: Path) -> None:
    media = write_wav(tmp_path / "two.wav", [(20.0, 300.0), (20.0, 600.0)])
    replies = {
        300.0: "00:00.000 - 00:20.000\nA hum.",
        600.0: "## Storyline\n00:00.000 - 00:25.000\nA tone.\n## Speakers and Transcript\n"
        "00:01.000 - 00:02.000\nSpeaker: Narrator\nState: calm\nContent: “Now.”",
    }

    def respond(request: httpx.Request) -> httpx.Response:
        pitch = dominant_hz(decode(json.loads(request.content)["messages"][0]["content"][0]["input_audio"]["data"]))
        return completion(replies[min(replies, key=lambda f: abs(f - pitch))])

    respx.post(URL).mock(side_effect=respond)
    with use_services(services(CAPTIONER)):
        out = await DirectCaptioner().caption(CaptionJob(media=media, evidence=Evidence()))
    assert [s.span for s in out.caption.storyline] == [TimeSpan(start=0, end=20), TimeSpan(start=20, end=40)]
    assert out.caption.transcript[0].span == TimeSpan(start=21.0, end=22.0)
    assert out.caption.transcript[0].content == "Now."
