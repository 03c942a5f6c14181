"""Open a clip for a run: probe a local file, or download an http(s) or fsspec URL, each within a deadline."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from detective.media.errors import MediaError, _fail, _transient
from detective.media.probing import probe
from detective.media.sources import READ_TIMEOUT, _is_url, content_hash, is_remote, resolve_source, scheme_of
from detective.models import MediaInfo

DOWNLOAD_PREFIX = "omni-detective-"
#: Seconds opening, probing and hashing a clip's file may take before the clip fails (a stalled mount, a device).
PROBE_TIMEOUT = 300.0


def default_download_timeout() -> float:
    """Seconds a download may take in all when the caller gives no deadline: ``DetectiveConfig.download_timeout``'s
    default (the one home of it; a 1 GB clip at 2 MB/s)."""
    from detective.agent.config import DetectiveConfig  # the configuration's own room; read when first needed

    return float(DetectiveConfig.model_fields["download_timeout"].default)


def open_media(
    source: str, *, max_download_bytes: int = 2_000_000_000, download_timeout: float | None = None
) -> MediaInfo:
    """Probe a local path or download an http(s) URL to a temporary file and probe that.

    The returned MediaInfo keeps ``source`` as given; ``path`` is the local file (for a URL, a file in a fresh
    temporary directory the caller may delete) and ``content_hash`` is filled. A download that has not finished
    within ``download_timeout`` seconds (``None``: :func:`default_download_timeout`) fails; its temporary directory
    is removed whatever ends it (an error, the deadline, Ctrl-C). In async code use :func:`aopen_media`, which a
    task's cancellation stops at once.
    """
    source = resolve_source(source) if scheme_of(source) in ("file", None) else source
    return _run_async(aopen_media(source, max_download_bytes=max_download_bytes, download_timeout=download_timeout))


async def aopen_media(
    source: str,
    *,
    max_download_bytes: int = 2_000_000_000,
    download_timeout: float | None = None,
    download: bool = True,
) -> MediaInfo:
    """:func:`open_media` for async code: a URL downloads on the event loop, so cancelling the task (Ctrl-C,
    a deadline of the caller) stops it at once and removes the temporary directory; probing runs in a thread.

    ``download=False`` probes a URL over the network instead (FFmpeg reads its header and first packets, not the
    whole file): ``path`` stays ``None`` and there is no ``content_hash`` (so no observation cache); tools that
    decode read the URL as a stream. For runs whose every tool hands the URL to its model (``Tool.reads_url``).
    """
    from detective.threads import run_sync

    if download_timeout is None:
        download_timeout = default_download_timeout()
    given = source
    source = resolve_source(source)  # one rule for every command: file:// is local, unknown schemes are refused
    if not is_remote(source):
        info = await _within(PROBE_TIMEOUT, source, run_sync(_probe_local, source, name="probe"))
        return info.model_copy(update={"source": given})
    if not download and _is_url(source):
        async with asyncio.timeout(download_timeout):
            info = await run_sync(probe, source, name="probe")
        return info.model_copy(update={"path": None})  # no local copy: tools read media.source
    if _is_url(source):
        path = await _download(source, max_download_bytes, download_timeout)
    else:
        path = await _fsspec_download(source, max_download_bytes, download_timeout)
    try:
        info = await _within(PROBE_TIMEOUT, path, run_sync(probe, path, name="probe"))
        digest = await _within(PROBE_TIMEOUT, path, run_sync(content_hash, path, name="content_hash"))
        info = info.model_copy(update={"source": source, "content_hash": digest})
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
    return probe(path).model_copy(update={"source": source, "content_hash": content_hash(path)})


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
