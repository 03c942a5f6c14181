"""Probe a clip: duration, streams, size and rate, from a WAV header or with PyAV."""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Any

import av

from detective.media.errors import _fail, _reason
from detective.media.sources import _is_url, _open, check_local_file
from detective.models import MediaInfo


def _origin(container: Any) -> float:
    """Clip time zero in container time: positive start offsets (MPEG-TS) are removed, negative ones kept."""
    start = container.start_time
    return max(0.0, start / av.time_base) if start is not None else 0.0


def _duration(container: Any) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    best = None
    for stream in container.streams:
        if stream.duration is not None and stream.time_base is not None:
            value = float(stream.duration * stream.time_base)
            best = value if best is None else max(best, value)
    return best


def _demuxed_duration(container: Any) -> float:
    """Duration by reading packet timestamps (no decoding), for containers that do not state it."""
    end = 0.0
    for packet in container.demux():
        if packet.pts is None or packet.time_base is None:
            continue
        t = float(packet.pts * packet.time_base) + float((packet.duration or 0) * packet.time_base)
        end = max(end, t)
    return end - _origin(container)


def _decodes(container: Any, stream: Any) -> bool:
    """True when at least one frame of ``stream`` decodes (catches truncated and garbage files)."""
    for packet in container.demux(stream):
        for _frame in packet.decode():
            return True
    return False


def probe(source: str) -> MediaInfo:
    """Probe a local clip, or an http(s) URL without fetching the whole file: duration, streams, size, fps.

    Raises :class:`MediaError` for a missing, empty, truncated or non-media file, anything not a regular file
    (directory, FIFO, device, socket, symlink loop: :func:`check_local_file`), a clip with no audio or video
    stream, and a clip of 0 seconds.
    """
    path = str(source)
    if not _is_url(path):
        check_local_file(path)  # before the WAV reader or FFmpeg opens it: a FIFO would block either
    quick = _probe_pcm_wav(path)
    if quick is not None:
        return quick
    container = _open(path)
    try:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        if video is None and audio is None:
            raise _fail(path, "has no audio or video stream")
        duration = _duration(container)
        if duration is None:
            duration = _demuxed_duration(container)
            container.seek(0)
        if not duration or duration <= 0.0:
            raise _fail(path, "is 0 seconds long: nothing to describe")
        if not _decodes(container, video if video is not None else audio):
            kind = "video" if video is not None else "audio"
            raise _fail(path, f"no {kind} frame could be decoded (truncated or corrupt file)")
        streams: dict[str, Any] = {}
        if video is not None:
            rate = video.average_rate or video.guessed_rate
            streams.update(
                width=video.codec_context.width,
                height=video.codec_context.height,
                fps=round(float(rate), 6) if rate else None,
                video_codec=video.codec_context.name,
            )
        if audio is not None:
            streams.update(
                audio_sample_rate=audio.codec_context.sample_rate,
                audio_channels=audio.codec_context.channels,
                audio_codec=audio.codec_context.name,
            )
        return MediaInfo(
            source=str(source),
            path=path,
            duration=round(duration, 6),
            has_audio=audio is not None,
            has_video=video is not None,
            container=container.format.name,
            size_bytes=None if _is_url(path) else Path(path).stat().st_size,
            **streams,
        )
    except av.FFmpegError as exc:
        raise _fail(path, f"cannot be decoded, truncated or corrupt ({_reason(exc)})") from exc
    finally:
        container.close()


_PCM_CODECS = {1: "pcm_u8", 2: "pcm_s16le", 3: "pcm_s24le", 4: "pcm_s32le"}


def _probe_pcm_wav(path: str) -> MediaInfo | None:
    """What :func:`probe` reports for a complete, non-empty PCM WAV file, read from its header without FFmpeg.

    ``None`` for anything else (other codecs, a data chunk shorter than its header says, 0 frames): PyAV then
    probes it and reports any problem.
    """
    if not path.lower().endswith(".wav"):
        return None
    try:
        size = os.path.getsize(path)
        with wave.open(path, "rb") as wav:
            if wav.getcomptype() != "NONE" or wav.getsampwidth() not in _PCM_CODECS:
                return None
            frames, rate, channels = wav.getnframes(), wav.getframerate(), wav.getnchannels()
            width = wav.getsampwidth()
            wav.setpos(frames)  # the data chunk really holds every frame the header promises
            data_end = wav._data_chunk.offset + wav._data_chunk.chunksize  # type: ignore[attr-defined]
    except (wave.Error, EOFError, OSError, AttributeError):
        return None
    if frames <= 0 or rate <= 0 or channels <= 0 or data_end > size or frames * width * channels > size:
        return None
    micros = (frames * 1_000_000 + rate // 2) // rate  # FFmpeg's duration, rounded to microseconds like it
    return MediaInfo(
        source=path,
        path=path,
        duration=round(micros / 1_000_000, 6),
        has_audio=True,
        has_video=False,
        container="wav",
        size_bytes=size,
        audio_sample_rate=rate,
        audio_channels=channels,
        audio_codec=_PCM_CODECS[width],
    )
