"""Stream and decode a clip's audio: mono float blocks, spans, WAV bytes and cached WAV data URLs.

Audio arrives in blocks, so a 2-hour clip never sits in memory; times are clip times in seconds.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import os
import threading
import wave
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

import av
import numpy as np

from detective.media.decoding import _decode
from detective.media.probing import _origin
from detective.media.sources import _is_url, _open, check_local_file
from detective.models import TimeSpan

#: A hole between decoded audio frames longer than this (seconds) is a skipped packet, filled with silence.
AUDIO_GAP = 0.02


def _audio_blocks(path: str, start: float, sr: int) -> Iterator[np.ndarray]:
    """Mono float32 samples at ``sr`` from clip time ``start`` on, in decoder-sized pieces.

    Sample 0 of the concatenated output is clip time ``start``: the decode after a seek is trimmed, and a late
    first frame is preceded by silence.
    """
    container = _open(path)
    try:
        if not container.streams.audio:
            return
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        origin = _origin(container)
        if start > 0:
            container.seek(int((start + origin) / stream.time_base), stream=stream, backward=True)

        # Output in quarter-second blocks: the Python work per block, not per 1024-sample codec frame, sets the cost.
        def resampler() -> Any:
            return av.AudioResampler(format="flt", layout="mono", rate=sr, frame_size=max(1, sr // 4))

        def trimmed(outs: Iterable[Any]) -> Iterator[np.ndarray]:
            """The samples of ``outs`` (resampled frames or arrays) from clip time ``start`` on."""
            nonlocal position
            for out in outs:
                samples = out if isinstance(out, np.ndarray) else out.to_ndarray().reshape(-1).astype(np.float32)
                skip = round((start - position) * sr) if position < start else 0
                position += samples.size / sr
                if skip < samples.size:
                    yield samples[skip:]

        current = resampler()
        position = start  # clip time of the next sample to be produced
        fed: float | None = None  # clip time where the audio fed to the resampler ends
        for frame in _decode(container, stream, path):
            at = (frame.time - origin) if frame.time is not None else None
            if fed is None:
                first = at if at is not None else start
                position = first
                gap = round((first - start) * sr)
                if gap > 0:
                    yield np.zeros(gap, dtype=np.float32)
                    position = start + gap / sr
                fed = first
            elif at is not None and at - fed > AUDIO_GAP:
                # A skipped (damaged) packet left a hole: silence fills it, so later samples keep their clip times.
                yield from trimmed(current.resample(None))
                current = resampler()
                hole = round((at - position) * sr)
                if hole > 0:
                    yield from trimmed([np.zeros(hole, dtype=np.float32)])
                fed = at
            fed = (at if at is not None else fed) + frame.samples / max(1, frame.sample_rate)
            yield from trimmed(current.resample(frame))
        if fed is None:
            return
        yield from trimmed(current.resample(None))  # what the resampler still holds, trimmed like the rest
    finally:
        container.close()


def load_audio(
    path: str | os.PathLike[str], start: float | None = None, end: float | None = None, sr: int = 16000
) -> np.ndarray:
    """The clip's audio (first stream), float32 mono in [-1, 1] at ``sr``, from ``start`` to ``end`` seconds.

    Sample 0 is clip time ``start`` (or 0). Returns an empty array when the clip has no audio stream.
    """
    begin = max(0.0, start or 0.0)
    limit = None if end is None else max(0, round((end - begin) * sr))
    quick = _pcm_wav(path, begin, limit, sr)
    if quick is not None:
        return quick
    pieces: list[np.ndarray] = []
    have = 0
    for block in _audio_blocks(str(path), begin, sr):
        if limit is not None and have + block.size >= limit:
            pieces.append(block[: limit - have])
            have = limit
            break
        pieces.append(block)
        have += block.size
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.clip(np.concatenate(pieces), -1.0, 1.0)


def _pcm_wav(path: str | os.PathLike[str], begin: float, limit: int | None, sr: int) -> np.ndarray | None:
    """16-bit mono PCM WAV already at ``sr``, read with the standard library (the samples PyAV would give).

    ``None`` for anything else, which then goes through PyAV: opening a container with FFmpeg costs more than
    reading a short WAV clip whole.
    """
    if not os.fspath(path).lower().endswith(".wav") or _is_url(os.fspath(path)):
        return None  # a URL streams through PyAV
    check_local_file(path)  # a FIFO named .wav would block the WAV reader
    try:
        with wave.open(os.fspath(path), "rb") as wav:
            if wav.getcomptype() != "NONE" or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                return None
            if wav.getframerate() != sr:
                return None
            first = round(begin * sr)
            total = wav.getnframes()
            if first >= total:
                return np.zeros(0, dtype=np.float32)
            wav.setpos(first)
            count = total - first if limit is None else min(limit, total - first)
            raw = wav.readframes(count)
    except (wave.Error, EOFError, OSError):
        return None  # PyAV says what is wrong with it
    if len(raw) != 2 * count:
        return None  # truncated: PyAV reports it
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) * np.float32(1.0 / 32768)


def iter_audio(
    path: str | os.PathLike[str], block_seconds: float = 30.0, sr: int = 16000, start: float = 0.0
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream the clip's audio from clip time ``start`` as ``(block start time, samples)`` blocks of
    ``block_seconds`` (last shorter); a ``start`` past 0 seeks there instead of decoding what lies before.

    Only one block is held at a time. Yields nothing when the clip has no audio stream.
    """
    size = max(1, round(block_seconds * sr))
    buffer = np.zeros(size, dtype=np.float32)
    filled = 0
    emitted = 0
    for piece in _audio_blocks(str(path), start, sr):
        offset = 0
        while offset < piece.size:
            take = min(size - filled, piece.size - offset)
            buffer[filled : filled + take] = piece[offset : offset + take]
            filled += take
            offset += take
            if filled == size:
                yield start + emitted / sr, np.clip(buffer, -1.0, 1.0)
                emitted += size
                buffer = np.zeros(size, dtype=np.float32)
                filled = 0
    if filled:
        yield start + emitted / sr, np.clip(buffer[:filled], -1.0, 1.0)


def iter_audio_span(
    path: str | os.PathLike[str], start: float, end: float | None, block_seconds: float = 30.0, sr: int = 16000
) -> Iterator[tuple[float, np.ndarray]]:
    """:func:`iter_audio` cut to ``[start, end)`` (``end`` None: to the clip's end): ``(clip time, samples)``.

    It seeks to ``start``: a span late in a long clip costs its own length, not the time before it."""
    for block_start, block in iter_audio(path, block_seconds=block_seconds, sr=sr, start=max(0.0, start)):
        block_end = block_start + block.size / sr
        if block_end <= start:
            continue
        if end is not None and block_start >= end:
            return
        a = max(0, round((start - block_start) * sr))
        b = block.size if end is None else min(block.size, round((end - block_start) * sr))
        if b > a:
            yield block_start + a / sr, block[a:b]


def audio_chunks(duration: float, max_seconds: float = 30.0) -> list[TimeSpan]:
    """Split ``[0, duration]`` into the fewest equal spans of at most ``max_seconds``."""
    if duration <= 0:
        return []
    count = max(1, math.ceil(duration / max_seconds - 1e-9))
    step = duration / count
    return [TimeSpan(start=round(i * step, 6), end=round(min(duration, (i + 1) * step), 6)) for i in range(count)]


def wav_bytes(samples: np.ndarray, sr: int = 16000) -> bytes:
    """16-bit PCM mono WAV bytes of float samples in [-1, 1]."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0) * 32767.0).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sr)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()


class _DataURLCache:
    """A byte-bounded LRU of WAV data URLs, keyed by the file's identity (path, size, mtime) and the span.

    A Detective asks an audio model many questions about the same span of the same clip; decoding the clip with
    PyAV costs more CPU than the whole chat call, so the encoded audio is kept while it is being asked about.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> str | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: str) -> None:
        if len(value) > self.max_bytes // 4:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._bytes += len(value)
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


#: Encoded audio kept for repeated questions (64 MiB: about 50 minutes of 16 kHz audio as base64 WAV).
_DATA_URLS = _DataURLCache(64 * 1024 * 1024)


def wav_data_url(
    path: str | os.PathLike[str], start: float | None = None, end: float | None = None, sr: int = 16000
) -> str | None:
    """The clip's audio from ``start`` to ``end`` as a ``data:audio/wav;base64,...`` URL (16-bit mono at ``sr``).

    ``None`` when the span holds no audio samples (no audio stream, or a span past the end). Results are cached
    by file identity and span, so asking about the same span again does not decode the clip again.
    """
    key = _data_url_key(path, start, end, sr)
    hit = _DATA_URLS.get(key) if key is not None else None
    if hit is not None:
        return hit
    samples = load_audio(path, start=start, end=end, sr=sr)
    if samples.size == 0:
        return None
    url = "data:audio/wav;base64," + base64.b64encode(wav_bytes(samples, sr=sr)).decode("ascii")
    if key is not None:
        _DATA_URLS.put(key, url)
    return url


def clear_caches() -> None:
    """Forget the encoded audio kept by :func:`wav_data_url` (benchmarks use it to measure cold runs)."""
    _DATA_URLS.clear()


async def awav_data_url(
    path: str | os.PathLike[str], start: float | None = None, end: float | None = None, sr: int = 16000
) -> str | None:
    """:func:`wav_data_url` for async code: a cached span is returned at once, a new one is decoded in a thread."""
    key = _data_url_key(path, start, end, sr)
    hit = _DATA_URLS.get(key) if key is not None else None
    if hit is not None:
        return hit
    return await asyncio.to_thread(wav_data_url, path, start, end, sr)


def _data_url_key(path: str | os.PathLike[str], start: float | None, end: float | None, sr: int) -> tuple | None:
    if _is_url(os.fspath(path)):
        return (os.fspath(path), start, end, sr)  # a clip read from its URL: decoded over the network once
    try:
        info = os.stat(path)
    except OSError:
        return None  # not a local file: load_audio reports why
    return (os.fspath(path), info.st_size, info.st_mtime_ns, start, end, sr)
