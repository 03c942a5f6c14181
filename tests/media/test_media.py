"""Media decoding on synthetic clips with known ground truth, and every kind of bad input."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import respx

from detective.media import (
    MediaError,
    audio_chunks,
    content_hash,
    frames_at,
    iter_audio,
    iter_audio_span,
    iter_frames,
    iter_frames_at,
    load_audio,
    open_media,
    probe,
    wav_bytes,
)

SR = 16000


def _onset(samples: np.ndarray, after: float, level: float = 0.1) -> float:
    """First time (s) after ``after`` where the signal exceeds ``level``."""
    start = int(after * SR)
    return (start + int(np.flatnonzero(np.abs(samples[start:]) > level)[0])) / SR


def test_probe_video_with_audio(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    info = probe(clip["path"])
    assert info.has_video and info.has_audio
    assert info.modalities == {"audio", "video"}
    assert (info.width, info.height) == (640, 360)
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(clip["duration"], abs=0.1)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    assert info.size_bytes == Path(clip["path"]).stat().st_size


def test_probe_video_without_audio_and_audio_only(fixture_media: dict[str, Any]) -> None:
    silent = probe(fixture_media["clips"]["silent"]["path"])
    assert silent.has_video and not silent.has_audio and silent.kind == "video"
    speech = probe(fixture_media["clips"]["speech"]["path"])
    assert speech.has_audio and not speech.has_video and speech.kind == "audio"
    assert speech.audio_sample_rate == 22050
    assert speech.duration == pytest.approx(10.0, abs=0.01)


def test_open_media_local_fills_hash(fixture_media: dict[str, Any]) -> None:
    path = fixture_media["clips"]["silent"]["path"]
    info = open_media(path)
    assert info.source == path
    assert info.content_hash == content_hash(path)
    assert len(info.content_hash) == 64


@respx.mock
def test_open_media_downloads_urls(fixture_media: dict[str, Any]) -> None:
    data = Path(fixture_media["clips"]["speech"]["path"]).read_bytes()
    respx.get("https://media.example/clip.wav").mock(return_value=httpx.Response(200, content=data))
    info = open_media("https://media.example/clip.wav")
    assert info.source == "https://media.example/clip.wav"
    assert info.path is not None and info.path.endswith(".wav") and Path(info.path).read_bytes() == data
    assert info.has_audio and info.duration == pytest.approx(10.0, abs=0.01)


@respx.mock
def test_open_media_url_errors_name_the_url() -> None:
    respx.get("https://media.example/missing.mp4").mock(return_value=httpx.Response(404))
    with pytest.raises(MediaError, match=r"^https://media\.example/missing\.mp4: download failed .*404"):
        open_media("https://media.example/missing.mp4")
    respx.get("https://media.example/big.mp4").mock(return_value=httpx.Response(200, content=b"x" * 5000))
    with pytest.raises(MediaError, match="limit"):
        open_media("https://media.example/big.mp4", max_download_bytes=1000)


@respx.mock
def test_downloads_are_deleted_after_a_run_and_after_a_failure(
    fixture_media: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from detective.agent.detective import Detective
    from detective.testing.fakes import ASRTool

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = Path(fixture_media["clips"]["speech"]["path"]).read_bytes()
    respx.get("https://media.example/talk.wav").mock(return_value=httpx.Response(200, content=data))
    result = Detective(tools=[ASRTool()], planner="rule", captioner="evidence", offline=True).run(
        "https://media.example/talk.wav"
    )
    assert result.media.has_audio and result.evidence.observations
    assert list(tmp_path.iterdir()) == []  # the temporary copy is gone
    respx.get("https://media.example/notmedia.mp4").mock(return_value=httpx.Response(200, content=b"not media"))
    with pytest.raises(MediaError, match=r"^https://media\.example/notmedia\.mp4"):
        open_media("https://media.example/notmedia.mp4")
    respx.get("https://media.example/missing.mp4").mock(return_value=httpx.Response(404))
    with pytest.raises(MediaError):
        open_media("https://media.example/missing.mp4")
    assert list(tmp_path.iterdir()) == []


def test_load_audio_times_match_ground_truth(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    samples = load_audio(clip["path"])
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert float(np.abs(samples).max()) <= 1.0
    assert samples.size / SR == pytest.approx(clip["duration"], abs=0.1)
    tone = clip["tones"][0]
    noise = clip["noise"][0]
    assert _onset(samples, tone["start"] - 0.2) == pytest.approx(tone["start"], abs=0.02)
    assert _onset(samples, noise["start"] - 0.2) == pytest.approx(noise["start"], abs=0.02)
    # silence before the first sentence
    assert float(np.abs(samples[: int(0.4 * SR)]).max()) < 0.01


def test_load_audio_window_starts_at_requested_time(fixture_media: dict[str, Any]) -> None:
    for name in ("scene", "speech"):
        clip = fixture_media["clips"][name]
        tone = clip["tones"][0]
        window = load_audio(clip["path"], start=tone["start"] - 1.0, end=tone["start"] + 0.5)
        assert window.size == int(1.5 * SR)
        assert (tone["start"] - 1.0) + _onset(window, 0.0) == pytest.approx(tone["start"], abs=0.02)
        # the tone's frequency survives the resampling
        burst = window[int(1.1 * SR) : int(1.5 * SR)]
        peak = np.argmax(np.abs(np.fft.rfft(burst))) * SR / burst.size
        assert peak == pytest.approx(tone["freq"], abs=5)


def test_iter_audio_streams_consistent_blocks(fixture_media: dict[str, Any]) -> None:
    path = fixture_media["clips"]["scene"]["path"]
    blocks = list(iter_audio(path, block_seconds=5.0))
    assert [start for start, _ in blocks] == [0.0, 5.0, 10.0, 15.0]
    assert all(b.size == 5 * SR for _, b in blocks[:-1])
    joined = np.concatenate([b for _, b in blocks])
    np.testing.assert_allclose(joined, load_audio(path), atol=1e-6)


def test_a_late_span_is_decoded_from_a_seek_not_from_the_start(
    fixture_media: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A span late in a clip costs its own length: the decoder seeks there (a re-check at 9:30 of a long clip used
    to decode the nine minutes before it), and the samples are the clip's own at those times."""
    from detective.media import audio as media

    path = fixture_media["clips"]["scene"]["path"]
    whole = load_audio(path)
    starts: list[float] = []
    blocks = media._audio_blocks

    def spy(p: str, start: float, sr: int) -> Any:
        starts.append(start)
        return blocks(p, start, sr)

    monkeypatch.setattr(media, "_audio_blocks", spy)
    (begin, samples), *rest = list(iter_audio_span(path, 12.0, 14.0, block_seconds=30.0))
    assert starts == [12.0] and rest == [] and begin == 12.0 and samples.size == 2 * SR
    reference = whole[12 * SR : 14 * SR]
    # the same sound at the same time: loudness per 0.1 s equal, and no shift (a resampler phase at most)
    rms = lambda x: np.sqrt((x.reshape(-1, SR // 10) ** 2).mean(axis=1))  # noqa: E731
    np.testing.assert_allclose(rms(samples), rms(reference), atol=0.02)
    lags = range(-40, 41)
    best = max(lags, key=lambda k: float(np.dot(samples[100:-100], np.roll(reference, k)[100:-100])))
    assert abs(best) <= 1


def test_no_audio_stream_gives_empty_audio(fixture_media: dict[str, Any]) -> None:
    path = fixture_media["clips"]["silent"]["path"]
    assert load_audio(path).size == 0
    assert list(iter_audio(path)) == []


def test_frames_at_returns_shown_frame_with_true_time(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    asked = [7.0, 0.0, 3.99, 4.01, 1.05, 15.99, 30.0]
    frames = frames_at(clip["path"], asked)
    assert len(frames) == len(asked)
    for t, (true_time, image) in zip(asked, frames, strict=True):
        assert image.shape == (360, 640, 3) and image.dtype == np.uint8
        # the shown frame started at most one frame interval before the asked time, on the 25 fps grid
        expected = min(t, clip["duration"] - 0.04)
        assert expected - 0.04 - 1e-6 <= true_time <= expected + 1e-6
        assert true_time * 25 == pytest.approx(round(true_time * 25), abs=1e-3)
    # 3.99 is the last navy frame, 4.01 the gradient after the cut: different pictures
    before, after = frames[2][1].astype(int), frames[3][1].astype(int)
    assert np.abs(before - after).mean() > 20


def test_iter_frames_at_streams_what_frames_at_returns(fixture_media: dict[str, Any]) -> None:
    path = fixture_media["clips"]["scene"]["path"]
    asked = [0.0, 1.05, 3.99, 4.01, 7.0, 15.99, 30.0]
    streamed = iter_frames_at(path, iter(asked), max_side=320)
    assert not isinstance(streamed, list)
    pairs = list(zip(streamed, frames_at(path, asked, max_side=320), strict=True))
    assert all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in pairs)


def test_frames_at_sees_overlays_only_while_shown(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    text = clip["texts"][0]
    x0, y0, x1, y1 = text["box"]
    times = [text["start"] - 0.3, (text["start"] + text["end"]) / 2, text["end"] + 0.1]
    crops = []
    for _, image in frames_at(clip["path"], times):
        crops.append(image[int(y0 * 360) : int(y1 * 360), int(x0 * 640) : int(x1 * 640)].astype(float))
    spread = [float(c.std(axis=(0, 1)).max()) for c in crops]  # per colour channel
    assert spread[1] > 40  # white letters over navy
    assert spread[0] < 5 and spread[2] < 5


def test_frames_at_downscales(fixture_media: dict[str, Any]) -> None:
    ((t, image),) = frames_at(fixture_media["bad"]["4k"], [0.5], max_side=640)
    assert image.shape == (360, 640, 3)
    assert t == pytest.approx(0.48, abs=0.041)
    ((_, small),) = frames_at(fixture_media["clips"]["silent"]["path"], [1.0], max_side=100)
    assert small.shape == (56, 100, 3)


def test_iter_frames_samples_every_step(fixture_media: dict[str, Any]) -> None:
    path = fixture_media["clips"]["scene"]["path"]
    frames = list(iter_frames(path, every=0.5, start=2.0, end=6.0, max_side=320))
    times = [t for t, _ in frames]
    assert len(times) == 8
    assert times == sorted(times) and len(set(times)) == len(times)
    for k, t in enumerate(times):
        assert 2.0 + 0.5 * k - 0.04 - 1e-6 <= t <= 2.0 + 0.5 * k + 1e-6
    assert frames[0][1].shape == (180, 320, 3)
    # every=3 s over 16 s crosses the gaps by seeking and still lands on the right frames
    sparse = [t for t, _ in iter_frames(path, every=3.0)]
    assert sparse == pytest.approx([0.0, 3.0, 6.0, 9.0, 12.0, 15.0], abs=0.041)


def test_iter_frames_on_audio_only_clip_fails_clearly(fixture_media: dict[str, Any]) -> None:
    path = fixture_media["clips"]["speech"]["path"]
    with pytest.raises(MediaError, match="has no video stream"):
        list(iter_frames(path, every=1.0))
    with pytest.raises(MediaError, match="has no video stream"):
        frames_at(path, [1.0])


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        ("empty", "empty file"),
        ("truncated", "truncated"),
        ("notmedia", "not a readable media file"),
        ("zero", "no audio or video stream"),
        ("zero_wav", "0 seconds"),
        ("nostreams", "no audio or video stream"),
    ],
)
def test_bad_inputs_raise_media_error_naming_file(fixture_media: dict[str, Any], name: str, cause: str) -> None:
    path = fixture_media["bad"][name]
    with pytest.raises(MediaError, match=cause) as info:
        probe(path)
    assert str(info.value).startswith(f"{path}: ")
    with pytest.raises(MediaError, match="^" + path):
        open_media(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.mp4")
    with pytest.raises(MediaError, match="file not found") as info:
        probe(missing)
    assert str(info.value).startswith(missing)
    with pytest.raises(MediaError, match="file not found"):
        load_audio(missing)
    with pytest.raises(MediaError, match="is a directory"):
        probe(str(tmp_path))
    with pytest.raises(MediaError, match="is a directory"):
        frames_at(str(tmp_path), [0.0])


def test_decoding_a_bad_file_raises_media_error(fixture_media: dict[str, Any]) -> None:
    with pytest.raises(MediaError, match="truncated"):
        load_audio(fixture_media["bad"]["truncated"])
    with pytest.raises(MediaError, match="not a readable media file"):
        frames_at(fixture_media["bad"]["notmedia"], [0.0])


def test_4k_probe(fixture_media: dict[str, Any]) -> None:
    info = probe(fixture_media["bad"]["4k"])
    assert (info.width, info.height) == (3840, 2160)
    assert not info.has_audio


def test_audio_chunks() -> None:
    assert audio_chunks(0.0) == []
    spans = audio_chunks(65.0, max_seconds=30.0)
    assert len(spans) == 3
    assert spans[0].start == 0.0 and spans[-1].end == 65.0
    assert all(s.duration <= 30.0 for s in spans)
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))
    assert len(audio_chunks(30.0, 30.0)) == 1
    assert len(audio_chunks(30.01, 30.0)) == 2


def test_wav_bytes_round_trip() -> None:
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    data = wav_bytes(np.concatenate([tone, [2.0, -2.0]]), sr=SR)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, SR)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    assert pcm.size == SR + 2
    assert pcm[-2:].tolist() == [32767, -32767]  # clipped, not wrapped
    np.testing.assert_allclose(pcm[:SR] / 32767.0, tone, atol=1e-4)


def test_content_hash_is_sha256(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    target.write_bytes(b"abc")
    assert content_hash(target) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_wav_data_url_is_decoded_once_per_span_and_follows_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    from detective.media import audio as dmedia

    path = tmp_path / "tone.wav"
    t = np.arange(SR) / SR
    tone = 0.5 * np.sin(2 * np.pi * (200.0 * t + 300.0 * t * t))  # a chirp: no two spans sound alike
    path.write_bytes(wav_bytes(tone))
    decodes: list[tuple[Any, ...]] = []
    real = dmedia.load_audio
    monkeypatch.setattr(dmedia, "load_audio", lambda *a, **k: decodes.append(a) or real(*a, **k))

    first = dmedia.wav_data_url(path, 0.25, 0.75)
    assert first is not None and first.startswith("data:audio/wav;base64,")
    with wave.open(io.BytesIO(base64.b64decode(first.split(",", 1)[1]))) as wav:
        assert wav.getframerate() == SR and wav.getnframes() == SR // 2
    assert dmedia.wav_data_url(path, 0.25, 0.75) == first
    assert len(decodes) == 1  # the second ask came from the cache
    assert dmedia.wav_data_url(path, 0.0, 0.5) != first and len(decodes) == 2  # another span decodes

    path.write_bytes(wav_bytes(0.5 * tone[: SR // 2]))  # same path, new content
    assert dmedia.wav_data_url(path, 0.25, 0.75) != first
    assert len(decodes) == 3
    assert dmedia.wav_data_url(path, 2.0, 3.0) is None  # past the end: no samples


async def test_awav_data_url_serves_a_cached_span_without_a_thread(tmp_path: Path) -> None:
    import detective.media as dmedia

    path = tmp_path / "tone.wav"
    path.write_bytes(wav_bytes(0.5 * np.sin(2 * np.pi * 440.0 * np.arange(SR) / SR)))
    first = await dmedia.awav_data_url(path, 0.0, 1.0)
    assert first == dmedia.wav_data_url(path, 0.0, 1.0)
    with pytest.raises(MediaError, match=r"missing\.wav"):
        await dmedia.awav_data_url(tmp_path / "missing.wav", 0.0, 1.0)


@pytest.mark.parametrize(
    ("start", "end"), [(None, None), (0.0, 0.5), (0.2, 0.7), (0.33333, 0.9), (0.9, 2.0), (1.5, 2.0)]
)
def test_pcm_wav_fast_path_gives_the_samples_pyav_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: float | None, end: float | None
) -> None:
    from detective.media import audio as dmedia

    t = np.arange(SR) / SR
    path = tmp_path / "chirp.wav"
    path.write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * (200.0 * t + 300.0 * t * t))))
    quick = load_audio(path, start, end)
    assert dmedia._pcm_wav(path, start or 0.0, None, SR) is not None  # the fast path did apply
    monkeypatch.setattr(dmedia, "_pcm_wav", lambda *args: None)
    assert np.array_equal(quick, load_audio(path, start, end))


def test_wav_files_the_fast_path_does_not_take_still_decode(tmp_path: Path) -> None:
    from detective.media import audio as dmedia

    stereo = tmp_path / "stereo.wav"
    with wave.open(str(stereo), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(SR)
        wav.writeframes(np.tile(np.array([1000, -1000], dtype="<i2"), SR).tobytes())
    assert dmedia._pcm_wav(stereo, 0.0, None, SR) is None
    assert load_audio(stereo).shape == (SR,)  # decoded by PyAV, downmixed
    other_rate = tmp_path / "8k.wav"
    other_rate.write_bytes(wav_bytes(np.zeros(8000), sr=8000))
    assert dmedia._pcm_wav(other_rate, 0.0, None, SR) is None
    assert load_audio(other_rate).shape == (SR,)  # resampled by PyAV
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(wav_bytes(np.zeros(SR))[:-1000])
    assert dmedia._pcm_wav(truncated, 0.0, None, SR) is None


@pytest.mark.parametrize(
    ("rate", "channels", "width", "frames"),
    [(16000, 1, 2, 8001), (44100, 2, 2, 44101), (8000, 1, 1, 799), (48000, 2, 3, 1)],
)
def test_pcm_wav_probe_reports_what_pyav_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rate: int, channels: int, width: int, frames: int
) -> None:
    from detective.media import probing as dmedia

    path = tmp_path / "clip.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames * channels * width))
    quick = probe(str(path))
    assert dmedia._probe_pcm_wav(str(path)) == quick  # the header path answered
    monkeypatch.setattr(dmedia, "_probe_pcm_wav", lambda _path: None)
    assert probe(str(path)) == quick


def test_a_truncated_wav_is_left_to_pyav(tmp_path: Path) -> None:
    from detective.media import probing as dmedia

    path = tmp_path / "cut.wav"
    path.write_bytes(wav_bytes(np.zeros(SR))[: 44 + 1000])
    assert dmedia._probe_pcm_wav(str(path)) is None
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert dmedia._probe_pcm_wav(str(empty)) is None
    with pytest.raises(MediaError, match="empty file"):
        probe(str(empty))


def _served(root: Path) -> Any:
    """The files of ``root`` over http://127.0.0.1 (aiohttp's static files, range requests included)."""
    from aiohttp import web
    from detective_testserver import AppServer

    app = web.Application()
    app.router.add_static("/", root)
    return AppServer(app)


def test_a_url_is_not_downloaded_when_every_tool_reads_it(fixture_media: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from detective_testserver import ChatServer

    from detective.agent.detective import Detective
    from detective.llm.settings import Settings
    from detective.testing.fakes import ASRTool
    from detective.testing.tools import ListenTool

    shutil.copy(fixture_media["clips"]["speech"]["path"], tmp_path / "talk.wav")
    with _served(tmp_path) as files, ChatServer() as chat:
        settings = Settings.from_env(env={}, api_key="sk-test", base_url=chat.url, backoff=0.01, timeout=10.0)
        url = f"{files.base}/talk.wav"
        probed = probe(url)  # over the network: the header, not the file
        assert probed.has_audio and probed.duration == pytest.approx(10.0, abs=0.01) and probed.size_bytes is None
        listen = Detective(tools=[ListenTool()], planner="rule", captioner="evidence", settings=settings)
        result = listen.run(url)
        assert result.media.path is None and result.media.content_hash is None  # probed, never downloaded
        assert result.media.duration == pytest.approx(10.0, abs=0.01)
        assert result.evidence.by_tool("listen") and not result.evidence.failures  # it decoded the URL as a stream
        both = Detective(tools=[ListenTool(), ASRTool()], planner="rule", captioner="evidence", settings=settings)
        result = both.run(url)  # a tool that needs a local file: the clip is downloaded
        assert result.media.content_hash == content_hash(tmp_path / "talk.wav")


@pytest.mark.parametrize("name", ["x.wav", "x.mp4"])
def test_a_fifo_is_refused_by_kind_before_opening(tmp_path: Path, name: str) -> None:
    import concurrent.futures

    fifo = tmp_path / name
    os.mkfifo(fifo)
    # run in a thread with a deadline: before the fix, opening the FIFO blocked forever
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        for call in (probe, open_media, load_audio):
            future = pool.submit(call, str(fifo))
            with pytest.raises(MediaError, match="is a FIFO"):
                future.result(timeout=60)
            with contextlib.suppress(OSError):  # unblock a reader stuck on the FIFO, should one be
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_devices_and_symlink_loops_are_named(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="is a character device"):
        probe("/dev/null")
    loop = tmp_path / "a.wav"
    loop.symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(loop)
    with pytest.raises(MediaError, match="symlink loop"):
        probe(str(loop))
    dangling = tmp_path / "d.wav"
    dangling.symlink_to(tmp_path / "gone.wav")
    with pytest.raises(MediaError, match=r"broken symlink .*gone\.wav"):
        open_media(str(dangling))


def test_a_probe_that_hangs_fails_at_its_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from detective.media import opening as media

    release = threading.Event()
    monkeypatch.setattr(media, "PROBE_TIMEOUT", 0.2)
    monkeypatch.setattr(media, "_probe_local", lambda source: release.wait(60))  # a stalled mount
    try:
        with pytest.raises(MediaError, match=r"did not finish within 0\.2 s"):
            media.open_media(str(tmp_path / "x.wav"))
    finally:
        release.set()
