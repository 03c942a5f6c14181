"""The decode loop every reader shares: damaged packets and frames skipped and remembered (:func:`damage`)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import av

from detective.media.errors import _fail, _reason
from detective.media.probing import _duration, _origin
from detective.media.sources import _open
from detective.models import TimeSpan

#: A file whose streams all end this much (seconds) before its stated duration was cut short: the tail is noted.
TAIL_GAP = 0.5


def _packet_time(packet: Any, origin: float, unit: float | None = None) -> float | None:
    """Clip time of a packet (presentation time, else decoding time); ``None`` when it carries neither.

    ``unit`` is its stream's time base as a float (Fraction arithmetic per packet costs more than decoding AAC)."""
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None:
        return None
    if unit is None:
        if packet.time_base is None:
            return None
        unit = float(packet.time_base)
    return stamp * unit - origin


def _decode(container: Any, stream: Any, path: str) -> Iterator[Any]:
    """Decoded frames of ``stream``, damage skipped and noted (:func:`damage`) instead of failing the clip.

    - a packet the decoder rejects, and a frame it flags corrupt (concealed garbage), are skipped;
    - a container that cannot be read on ends the stream there, the rest noted as damaged;
    - a file whose packets all end well before its stated duration (cut short) has its missing tail noted (a
      stream that merely ends before another does not).

    Only a stream of which nothing decodes at all raises a MediaError.
    """
    origin = _origin(container)
    kind = "audio" if stream.type == "audio" else "video"
    decoded = False
    reached = 0.0  # clip time up to which this stream's packets were read
    unit = float(stream.time_base) if stream.time_base is not None else None
    packets = iter(container.demux(stream))
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.FFmpegError as exc:
            if not decoded:
                raise _fail(path, f"decoding failed mid-stream, file truncated or corrupt ({_reason(exc)})") from exc
            stated = _duration(container)
            _note_damage(path, kind, reached, max(reached, (stated - origin) if stated is not None else reached), exc)
            return
        start = _packet_time(packet, origin, unit)
        length = (packet.duration or 0) * unit if unit is not None else 0.0
        if start is not None:
            reached = max(reached, start + length)
        try:
            frames = packet.decode()
        except av.FFmpegError as exc:
            at = start if start is not None else reached
            _note_damage(path, kind, at, at + length, exc)
            continue
        for frame in frames:
            if frame.is_corrupt:
                at = (frame.time - origin) if frame.time is not None else reached
                _note_damage(path, kind, at, at + _frame_length(frame), "the decoder flagged the frame corrupt")
                continue
            decoded = True
            yield frame
    stated = _duration(container)
    if decoded and stated is not None and _states_duration(container) and stated - origin - reached > TAIL_GAP:
        latest = _content_end(path, reached)  # a stream that simply ends before another is not damage
        if stated - origin - latest > TAIL_GAP:
            _note_damage(path, kind, latest, stated - origin, "the file ends before its stated duration")


def _content_end(path: str, after: float) -> float:
    """Clip time where the last packet of any stream ends, reading only from about ``after`` on."""
    container = _open(path)
    try:
        origin = _origin(container)
        end = after
        container.seek(int(max(0.0, after - 1.0 + origin) * av.time_base), backward=True)
        for packet in container.demux():
            start = _packet_time(packet, origin)
            if start is not None and packet.time_base is not None:
                end = max(end, start + float((packet.duration or 0) * packet.time_base))
        return end
    except av.FFmpegError:
        return after  # unreadable on from there: the data ends where this stream's did
    finally:
        container.close()


def _frame_length(frame: Any) -> float:
    """Seconds a decoded frame lasts (audio: its samples; video: its duration field, else 0)."""
    if getattr(frame, "samples", None) and getattr(frame, "sample_rate", None):
        return frame.samples / frame.sample_rate
    duration = getattr(frame, "duration", None)
    return float(duration * frame.time_base) if duration and frame.time_base is not None else 0.0


def _states_duration(container: Any) -> bool:
    """True for containers that record their duration (a cut-short file is recognisable), not those whose
    duration FFmpeg estimates from the bit rate (MP3, ADTS AAC, MPEG-TS: the estimate can be seconds off)."""
    names = set(container.format.name.split(","))
    return bool(names & {"matroska", "webm", "mov", "mp4", "avi", "wav", "flac", "ogg"})


# --- damaged media --------------------------------------------------------------------------------------------

#: Clips whose damage is remembered (least recently noted forgotten first): what one observer's decode found is
#: there for the coverage of every observer of the clip in this process.
DAMAGE_MEMORY = 256
_damage: OrderedDict[tuple[str, int, int], dict[tuple[str, float, float], str]] = OrderedDict()
_damage_lock = threading.Lock()


def _damage_key(path: str | os.PathLike[str]) -> tuple[str, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(os.fspath(path)), info.st_size, info.st_mtime_ns)


def _note_damage(path: str | os.PathLike[str], kind: str, start: float, end: float, exc: BaseException | str) -> None:
    """Remember that ``kind`` could not be decoded over ``[start, end]`` of the clip at ``path``."""
    key = _damage_key(path)
    if key is None:
        return
    span = (kind, round(max(0.0, start), 3), round(max(0.0, start, end), 3))
    with _damage_lock:
        noted = _damage.setdefault(key, {})
        noted.setdefault(span, exc if isinstance(exc, str) else _reason(exc))
        _damage.move_to_end(key)
        while len(_damage) > DAMAGE_MEMORY:
            _damage.popitem(last=False)


def damage(path: str | os.PathLike[str], kind: str | None = None) -> list[tuple[str, TimeSpan, str]]:
    """What decoding the clip at ``path`` skipped so far: ``(stream kind, span, cause)``, overlapping or touching
    spans of one stream merged, in time order; ``kind`` (``"audio"`` / ``"video"``) keeps one stream's."""
    key = _damage_key(path)
    with _damage_lock:
        noted = dict(_damage.get(key, {})) if key is not None else {}
    merged: list[list[Any]] = []
    for (what, start, end), cause in sorted(noted.items()):
        if kind is not None and what != kind:
            continue
        if merged and merged[-1][0] == what and start <= merged[-1][2] + 0.05:
            merged[-1][2] = max(merged[-1][2], end)
        else:
            merged.append([what, start, end, cause])
    return [(what, TimeSpan(start=start, end=end), cause) for what, start, end, cause in merged]
