"""Sample a clip's frames at their true presentation times, streaming, one frame held at a time.

Asking for t = 3.0 returns the frame on screen at 3.0 s together with the time it was first shown (e.g. 2.96 s),
never a frame re-stamped with the time that was asked for. Every failure is a :class:`MediaError` whose message
starts with the clip's source and says what is wrong.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from detective.media.decoding import _decode
from detective.media.errors import _fail
from detective.media.probing import _origin, probe
from detective.media.sources import _open

#: Forward gaps longer than this (seconds) are crossed by seeking instead of decoding every frame.
SEEK_GAP = 2.0


def _scaled(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    if not max_side or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _rgb(frame: Any, max_side: int | None, reformatter: Any) -> np.ndarray:
    """``frame`` as RGB, scaled to ``max_side`` by ``reformatter`` (kept across frames: one scaler context)."""
    width, height = _scaled(frame.width, frame.height, max_side)
    return reformatter.reformat(frame, format="rgb24", width=width, height=height).to_ndarray()


def _shown_frames(path: str, times: Iterable[float], max_side: int | None) -> Iterator[tuple[float, float, np.ndarray]]:
    """For each time of a non-decreasing sequence, ``(asked, true time, RGB)`` of the frame shown then.

    Frames are decoded forward; a forward gap over :data:`SEEK_GAP` seconds (or a step backwards) seeks to the
    keyframe before the target instead. Only the current and the previous frame are held.
    """
    from av.video.reformatter import VideoReformatter

    container = _open(path)
    reformatter = VideoReformatter()  # a scaler context per call costs more than the conversion itself
    try:
        if not container.streams.video:
            raise _fail(path, "has no video stream")
        # No frame threading: it buys a lone sampler little wall time and costs about a quarter more CPU, which
        # the observers running beside it need.
        stream = container.streams.video[0]
        origin = _origin(container)
        frames: Iterator[Any] | None = None
        prev: Any = None  # last decoded frame with time <= the target
        ahead: Any = None  # first decoded frame with time > the target (not yet consumed)
        last_time = -math.inf

        def clip_time(frame: Any) -> float:
            return (frame.time if frame.time is not None else 0.0) - origin

        def restart(target: float) -> None:
            nonlocal frames, prev, ahead
            if target > 0:
                container.seek(int((target + origin) / stream.time_base), stream=stream, backward=True)
            else:
                container.seek(0)
            frames = _decode(container, stream, path)
            prev = ahead = None

        for asked in times:
            if asked < last_time - 1e-9:
                raise ValueError("_shown_frames needs non-decreasing times")
            last_time = asked
            reference = ahead if ahead is not None else prev
            if frames is None or (reference is not None and asked - clip_time(reference) > SEEK_GAP):
                restart(asked)
            for attempt in range(2):
                while True:
                    if ahead is None:
                        ahead = next(frames, None)  # type: ignore[arg-type]
                        if ahead is None:
                            break  # end of stream: the last frame stays on screen
                    if clip_time(ahead) > asked + 1e-6:
                        break
                    prev, ahead = ahead, None
                if prev is None and ahead is not None:
                    # asked before the first frame (or the demuxer seeked past the target): show the first one
                    prev, ahead = ahead, None
                if prev is not None:
                    break
                if attempt == 0:
                    restart(0.0)  # a seek past the last keyframe decoded nothing: read from the start
            if prev is None:
                raise _fail(path, "no video frame could be decoded")
            yield asked, round(max(0.0, clip_time(prev)), 6), _rgb(prev, max_side, reformatter)
    finally:
        container.close()


def frames_at(
    path: str | os.PathLike[str], times: list[float], max_side: int | None = None
) -> list[tuple[float, np.ndarray]]:
    """The frame shown at each of ``times``, as ``(true timestamp, RGB uint8 array)``, in the order asked.

    ``max_side`` downscales (keeping the aspect ratio) so the longer side is at most that many pixels.
    """
    if not times:
        return []
    order = sorted(range(len(times)), key=lambda i: times[i])
    results: list[tuple[float, np.ndarray] | None] = [None] * len(times)
    sorted_times = [max(0.0, float(times[i])) for i in order]
    for index, (_asked, true_time, image) in zip(order, _shown_frames(str(path), sorted_times, max_side), strict=True):
        results[index] = (true_time, image)
    return [r for r in results if r is not None]


def iter_frames_at(
    path: str | os.PathLike[str], times: Iterable[float], max_side: int | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream the frame shown at each of ``times`` (non-decreasing), as ``(true timestamp, RGB uint8 array)``.

    :func:`frames_at` for many instants: one frame is held at a time, however many are asked for.
    """
    for _asked, true_time, image in _shown_frames(str(path), (max(0.0, float(t)) for t in times), max_side):
        yield true_time, image


def sample_times(
    duration: float, every: float, start: float | None = None, end: float | None = None
) -> Iterator[float]:
    """``start``, ``start + every``, … before ``end`` (default: ``duration``), and at least ``start``: the instants
    :func:`iter_frames` samples, for a caller that merges them with instants of its own."""
    begin = max(0.0, start or 0.0)
    stop = min(duration, end) if end is not None else duration
    k = 0
    while True:
        t = begin + k * every
        if t >= stop - 1e-6 and k > 0:
            return
        yield t
        k += 1


def iter_frames(
    path: str | os.PathLike[str],
    every: float,
    start: float | None = None,
    end: float | None = None,
    max_side: int | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Stream the frames shown at ``start``, ``start + every``, … up to ``end`` (default: the clip's end).

    Yields ``(true timestamp, RGB uint8 array)``; consecutive samples that land on the same frame (``every``
    shorter than the frame interval) are yielded once.
    """
    if every <= 0:
        raise ValueError(f"iter_frames: every must be positive, got {every}")
    info = probe(str(path))
    if not info.has_video:
        raise _fail(path, "has no video stream")
    last: float | None = None
    for _asked, true_time, image in _shown_frames(str(path), sample_times(info.duration, every, start, end), max_side):
        if last is not None and abs(true_time - last) < 1e-9:
            continue
        last = true_time
        yield true_time, image
