"""Media decoding: probe clips, stream their audio and sample their frames, with PyAV.

Every function decodes as a stream: audio arrives in blocks, frames one at a time, so a 2-hour video
never sits in memory. Times are clip times in seconds. A frame is reported at its *true* presentation time:
asking for t = 3.0 returns the frame on screen at 3.0 s together with the time it was first shown (e.g.
2.96 s), never a frame re-stamped with the time that was asked for.

Every failure is a :class:`MediaError` whose message starts with the clip's source and says what is wrong.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import io
import math
import os
import re
import shutil
import stat
import tempfile
import threading
import wave
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import av
import numpy as np

from detective.models import MediaInfo, TimeSpan

__all__ = [
    "MediaError",
    "aopen_media",
    "audio_chunks",
    "awav_data_url",
    "check_local_file",
    "clear_caches",
    "content_hash",
    "damage",
    "frames_at",
    "iter_audio",
    "iter_frames",
    "iter_frames_at",
    "load_audio",
    "open_media",
    "probe",
    "wav_bytes",
    "wav_data_url",
]

#: Forward gaps longer than this (seconds) are crossed by seeking instead of decoding every frame.
SEEK_GAP = 2.0
#: A hole between decoded audio frames longer than this (seconds) is a skipped packet, filled with silence.
AUDIO_GAP = 0.02
#: A file whose streams all end this much (seconds) before its stated duration was cut short: the tail is noted.
TAIL_GAP = 0.5


class MediaError(ValueError):
    """A clip cannot be read: the message starts with the clip's source and states the cause.

    A ``ValueError`` (the input is unusable), which is also what lets LangGraph's server pass its message on to
    Studio: it hides the messages of exception types it does not know as user errors. ``retryable`` is True only
    where another attempt can help (a remote store that did not answer in time or failed to serve the bytes); a
    missing, empty or corrupt clip is permanent.
    """

    retryable = False


def _transient(error: MediaError) -> MediaError:
    error.retryable = True
    return error


def _fail(source: str | os.PathLike[str], cause: str) -> MediaError:
    return MediaError(f"{source}: {cause}")


def _is_url(source: str) -> bool:
    return urlparse(source).scheme in ("http", "https")


#: ``scheme://…`` (or ``data:…``): a source that names a URL rather than a local path.
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):(?://|(?<=data:))")
#: Protocols fsspec knows that are not remote sources of a clip (the local file system under other names).
_LOCAL_PROTOCOLS = frozenset({"file", "local"})


def scheme_of(source: str) -> str | None:
    """The URL scheme of ``source`` (lower case), or ``None`` for a local path (``file://`` counts as a scheme)."""
    match = _SCHEME.match(source)
    return match.group("scheme").lower() if match else None


def fsspec_protocols() -> list[str]:
    """The protocols fsspec can read (``s3``, ``gs``, ``az`` …), whether or not their backend is installed."""
    from fsspec.registry import known_implementations, registry

    return sorted(set(known_implementations) | set(registry))


def resolve_source(source: str, base: str | os.PathLike[str] | None = None) -> str:
    """The one rule for a clip's source, for ``caption`` and ``run`` alike.

    - a local path stays a path (``~`` expanded; a relative one resolved under ``base`` when given, which may be
      a URL folder: a relative path in a manifest at ``s3://b/sets/`` names ``s3://b/sets/<path>``);
    - ``file://`` URLs become the local path they name;
    - ``http://`` and ``https://`` URLs are downloaded by :func:`aopen_media` with its limits;
    - any other URL fsspec reads (``s3://``, ``gs://``, ``az://``, ``hf://``, ``ftp://``, ``data:`` …) is read
      through fsspec, credentials from the usual environment (``AWS_*``, ``GOOGLE_APPLICATION_CREDENTIALS``,
      ``AZURE_STORAGE_*``);
    - anything else raises :class:`MediaError` naming the source and its unsupported scheme.
    """
    scheme = scheme_of(source)
    if scheme is None:
        path = Path(os.path.expanduser(source))
        if base is not None and not path.is_absolute():
            if is_remote(os.fspath(base)):  # a manifest at a URL: its relative paths lead beside it
                return os.fspath(base).rstrip("/") + "/" + path.as_posix().removeprefix("./")
            path = Path(base) / path
        return str(path)
    if scheme == "file":
        from urllib.request import url2pathname

        parsed = urlparse(source)
        if parsed.netloc not in ("", "localhost"):
            raise _fail(source, f"file:// URL of another host ({parsed.netloc}); give a local path")
        return url2pathname(parsed.path)
    if scheme in ("http", "https") or scheme in fsspec_protocols():
        return source
    raise _fail(
        source,
        f"unsupported scheme '{scheme}:' (give a local path, file://, http(s):// or a URL fsspec reads, such as "
        "s3://, gs://, az://, hf://, ftp://, sftp:// or data:)",
    )


def is_remote(source: str) -> bool:
    """True for a source :func:`aopen_media` downloads (http(s) or an fsspec URL), False for a local path."""
    scheme = scheme_of(source)
    return scheme is not None and scheme not in _LOCAL_PROTOCOLS


#: What a local source that is not a regular file is, by ``stat`` mode test: each is refused before it is opened.
_KINDS = (
    (stat.S_ISDIR, "is a directory, not a media file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a regular file: refused unopened (reading one can wait forever)"),
    (stat.S_ISCHR, "is a character device, not a regular file: refused unopened"),
    (stat.S_ISBLK, "is a block device, not a regular file: refused unopened"),
    (stat.S_ISSOCK, "is a socket, not a regular file: refused unopened"),
)


def check_local_file(path: str | os.PathLike[str], *, allow_empty: bool = False) -> None:
    """Refuse a local source that is not a non-empty regular file, by kind, without opening it.

    :raises MediaError: missing (or a broken symlink), a symlink loop, a directory, a FIFO, a device, a socket,
        an empty file, or a file that cannot be looked at.
    """
    try:
        st = os.stat(path)  # follows symlinks: the kind of what would be opened
    except FileNotFoundError:
        if os.path.islink(path):
            raise _fail(path, f"broken symlink (to {os.readlink(path)}): file not found") from None
        raise _fail(path, "file not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _fail(path, "symlink loop (the links lead back to themselves): no file to open") from None
        raise _fail(path, f"cannot be looked at ({exc.strerror or exc})") from None
    for test, why in _KINDS:
        if test(st.st_mode):
            raise _fail(path, why)
    if not stat.S_ISREG(st.st_mode):
        raise _fail(path, "is not a regular file: refused unopened")
    if st.st_size == 0 and not allow_empty:
        raise _fail(path, "empty file (0 bytes)")


def _open(path: str | os.PathLike[str]) -> Any:
    """Open a local file, or an http(s) URL as a stream, with PyAV, turning every way it can fail into a
    MediaError."""
    if _is_url(os.fspath(path)):
        try:  # FFmpeg reads what it needs (a header, the packets asked for), with range requests to seek
            return av.open(os.fspath(path), mode="r", timeout=(READ_TIMEOUT, READ_TIMEOUT))
        except av.FFmpegError as exc:
            raise _fail(path, f"cannot be read over the network, or not a media file ({_reason(exc)})") from exc
        except OSError as exc:
            raise _fail(path, f"cannot be opened ({exc})") from exc
    p = Path(path)
    check_local_file(p)
    try:
        return av.open(str(p), mode="r")
    except av.FFmpegError as exc:
        raise _fail(path, f"not a readable media file, or truncated/corrupt ({_reason(exc)})") from exc
    except OSError as exc:
        raise _fail(path, f"cannot be opened ({exc})") from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '", 1)[0]


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
        info = MediaInfo(
            source=str(source),
            path=path,
            duration=round(duration, 6),
            has_audio=audio is not None,
            has_video=video is not None,
            container=container.format.name,
            size_bytes=None if _is_url(path) else Path(path).stat().st_size,
        )
        if video is not None:
            rate = video.average_rate or video.guessed_rate
            info.width = video.codec_context.width
            info.height = video.codec_context.height
            info.fps = round(float(rate), 6) if rate else None
            info.video_codec = video.codec_context.name
        if audio is not None:
            info.audio_sample_rate = audio.codec_context.sample_rate
            info.audio_channels = audio.codec_context.channels
            info.audio_codec = audio.codec_context.name
        return info
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


DOWNLOAD_PREFIX = "omni-detective-"
#: Seconds a download may take in all (DetectiveConfig.download_timeout's default): a 1 GB clip at 2 MB/s.
DOWNLOAD_TIMEOUT = 600.0
#: Seconds opening, probing and hashing a clip's file may take before the clip fails (a stalled mount, a device).
PROBE_TIMEOUT = 300.0
#: Seconds a download may wait for its connection or its next bytes before it is given up.
READ_TIMEOUT = 60.0


def open_media(
    source: str, *, max_download_bytes: int = 2_000_000_000, download_timeout: float = DOWNLOAD_TIMEOUT
) -> MediaInfo:
    """Probe a local path or download an http(s) URL to a temporary file and probe that.

    The returned MediaInfo keeps ``source`` as given; ``path`` is the local file (for a URL, a file in a fresh
    temporary directory the caller may delete) and ``content_hash`` is filled. A download that has not finished
    within ``download_timeout`` seconds fails; its temporary directory is removed whatever ends it (an error, the
    deadline, Ctrl-C). In async code use :func:`aopen_media`, which a task's cancellation stops at once.
    """
    source = resolve_source(source) if scheme_of(source) in ("file", None) else source
    return _run_async(aopen_media(source, max_download_bytes=max_download_bytes, download_timeout=download_timeout))


async def aopen_media(
    source: str,
    *,
    max_download_bytes: int = 2_000_000_000,
    download_timeout: float = DOWNLOAD_TIMEOUT,
    download: bool = True,
) -> MediaInfo:
    """:func:`open_media` for async code: a URL downloads on the event loop, so cancelling the task (Ctrl-C,
    a deadline of the caller) stops it at once and removes the temporary directory; probing runs in a thread.

    ``download=False`` probes a URL over the network instead (FFmpeg reads its header and first packets, not the
    whole file): ``path`` stays ``None`` and there is no ``content_hash`` (so no observation cache); tools that
    decode read the URL as a stream. For runs whose every tool hands the URL to its model (``Tool.reads_url``).
    """
    from detective.threads import run_sync

    given = source
    source = resolve_source(source)  # one rule for every command: file:// is local, unknown schemes are refused
    if not is_remote(source):
        info = await _within(PROBE_TIMEOUT, source, run_sync(_probe_local, source, name="probe"))
        info.source = given
        return info
    if not download and _is_url(source):
        async with asyncio.timeout(download_timeout):
            info = await run_sync(probe, source, name="probe")
        info.path = None  # no local copy: tools read media.source
        return info
    if _is_url(source):
        path = await _download(source, max_download_bytes, download_timeout)
    else:
        path = await _fsspec_download(source, max_download_bytes, download_timeout)
    try:
        info = await _within(PROBE_TIMEOUT, path, run_sync(probe, path, name="probe"))
        info.source = source
        info.content_hash = await _within(PROBE_TIMEOUT, path, run_sync(content_hash, path, name="content_hash"))
    except MediaError as exc:  # name the URL the user gave, not our temporary copy
        shutil.rmtree(Path(path).parent, ignore_errors=True)
        raise MediaError(str(exc).replace(path, source)) from exc
    except BaseException:
        shutil.rmtree(Path(path).parent, ignore_errors=True)
        raise
    return info


async def _within(seconds: float, source: str, work: Any) -> Any:
    """Await ``work`` (a :func:`~detective.threads.run_sync` call) for at most ``seconds``; a clip whose file
    hangs (a stalled network mount, a device) is then a :class:`MediaError`, its thread abandoned."""
    try:
        async with asyncio.timeout(seconds):
            return await work
    except TimeoutError:
        raise _fail(
            source, f"opening or probing did not finish within {seconds:g} s (a stalled disk or network mount?)"
        ) from None


def _probe_local(source: str) -> MediaInfo:
    path = os.path.expanduser(source)
    info = probe(path)
    info.source = source
    info.content_hash = content_hash(path)
    return info


def _run_async(coro: Any) -> Any:
    """Run ``coro`` to its end from synchronous code; in a thread of its own when this one runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="omni-detective-download") as pool:
        return pool.submit(asyncio.run, coro).result()


def discard_download(media: MediaInfo) -> None:
    """Delete the temporary copy :func:`open_media` made of a URL (nothing for local files)."""
    if media.path and is_remote(media.source):
        folder = Path(media.path).parent
        if folder.name.startswith(DOWNLOAD_PREFIX) and Path(tempfile.gettempdir()) in folder.parents:
            shutil.rmtree(folder, ignore_errors=True)


async def _download(url: str, max_bytes: int, deadline: float) -> str:
    """Stream ``url`` into a fresh temporary directory within ``deadline`` seconds in all; the file's path.

    httpx's timeouts bound each wait (connect, the next bytes), never the whole transfer: a server that trickles a
    byte a second would hold a download forever, so the whole transfer runs under one ``asyncio.timeout``.
    """
    import httpx

    suffix = Path(urlparse(url).path).suffix[:10] or ".media"
    target = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX)) / f"download{suffix}"
    written = 0
    try:
        async with (
            asyncio.timeout(deadline),
            httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(min(READ_TIMEOUT, deadline))) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise _fail(url, f"download failed with HTTP {response.status_code}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise _fail(url, f"download is {declared} bytes, over the {max_bytes}-byte limit")
            with target.open("wb") as fh:
                async for block in response.aiter_bytes():
                    written += len(block)
                    if written > max_bytes:
                        raise _fail(url, f"download exceeds the {max_bytes}-byte limit")
                    fh.write(block)
    except TimeoutError as exc:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise _fail(
            url,
            f"download did not finish within {deadline:g} s (download_timeout; {written} bytes received); "
            "raise --download-timeout for a slow server",
        ) from exc
    except httpx.HTTPError as exc:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise _fail(url, f"download failed ({type(exc).__name__}: {exc})") from exc
    except BaseException:
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return str(target)


async def _fsspec_download(url: str, max_bytes: int, deadline: float) -> str:
    """Copy an fsspec URL (``s3://``, ``gs://`` …) into a fresh temporary directory within ``deadline`` seconds.

    fsspec's file objects are synchronous: the copy runs in a thread, in 1 MiB blocks, and stops at the next
    block once the deadline passed or the task was cancelled; the temporary directory is removed either way.
    """
    suffix = Path(urlparse(url).path).suffix
    suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,9}", suffix) else ".media"
    target = Path(tempfile.mkdtemp(prefix=DOWNLOAD_PREFIX)) / f"download{suffix}"
    stop = threading.Event()
    written = 0

    def copy() -> None:
        nonlocal written
        import fsspec

        try:
            with fsspec.open(url, "rb") as src, target.open("wb") as dst:
                declared = getattr(src, "size", None)
                if isinstance(declared, int) and declared > max_bytes:
                    raise _fail(url, f"is {declared} bytes, over the {max_bytes}-byte limit")
                while not stop.is_set():
                    block = src.read(1 << 20)
                    if not block:
                        return
                    written += len(block)
                    if written > max_bytes:
                        raise _fail(url, f"exceeds the {max_bytes}-byte limit")
                    dst.write(block)
        except MediaError:
            raise
        except ImportError as exc:  # the protocol is known, its backend is not installed
            raise _fail(
                url,
                f"reading {url.split(':', 1)[0]}:// URLs needs a backend ({exc}); pip install 'omni-detective[cloud]'",
            ) from exc
        except FileNotFoundError as exc:
            raise _fail(url, "not found (no such object)") from exc
        except PermissionError as exc:
            raise _fail(url, f"access denied ({exc}); check the credentials in the environment") from exc
        except Exception as exc:  # a backend's own errors (connection, credentials, throttling): worth a retry
            raise _transient(_fail(url, f"cannot be read ({type(exc).__name__}: {exc})")) from exc

    try:
        async with asyncio.timeout(deadline):
            await asyncio.to_thread(copy)
    except TimeoutError as exc:
        stop.set()
        shutil.rmtree(target.parent, ignore_errors=True)
        raise _transient(
            _fail(url, f"download did not finish within {deadline:g} s (download_timeout; {written} bytes received)")
        ) from exc
    except BaseException:
        stop.set()
        shutil.rmtree(target.parent, ignore_errors=True)
        raise
    return str(target)


def content_hash(path: str | os.PathLike[str]) -> str:
    """sha256 of the file's bytes (hex), read in blocks."""
    check_local_file(path, allow_empty=True)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- audio -------------------------------------------------------------------------------------------------


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


# --- frames ------------------------------------------------------------------------------------------------


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
