"""Deadlines: synchronous tools that never return, downloads that trickle, Ctrl-C during a download.

Every test ends within its own deadline; the hung tools here wait on an event the test sets at its end, so no
thread outlives the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from detective_testserver import AppServer

from detective.agent.config import DetectiveConfig
from detective.agent.detective import Detective
from detective.agent.events import Observed
from detective.media import MediaError, aopen_media, default_download_timeout, open_media
from detective.models import MediaInfo, Observation, Query, TimeSpan
from detective.threads import ThreadExit, run_sync
from detective.tools import Tool

# --- synchronous code in worker threads ---------------------------------------------------------------------


async def test_run_sync_returns_raises_and_keeps_the_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller's")
    assert await run_sync(lambda a, b=0: (a + b, var.get(), threading.current_thread().daemon), 2, b=3) == (
        5,
        "caller's",
        True,
    )
    with pytest.raises(ValueError, match="bad input"):
        await run_sync(int, "bad input")
    with pytest.raises(ThreadExit, match=r"exit raised SystemExit\(3\)"):
        await run_sync(sys.exit, 3, name="exit")


async def test_a_timed_out_call_is_abandoned_and_holds_no_shared_slot() -> None:
    release = threading.Event()
    try:
        started = time.monotonic()
        # more hung calls than the default executor has threads (min(32, cores + 4)): none of them takes a slot
        hung = [asyncio.wait_for(run_sync(release.wait, 3600), timeout=0.3) for _ in range((os.cpu_count() or 1) + 5)]
        outcomes = await asyncio.gather(*hung, return_exceptions=True)
        assert all(isinstance(o, TimeoutError) for o in outcomes)
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "default executor free"), 5) == "default executor free"
        assert await asyncio.wait_for(run_sync(lambda: "new call answers"), 5) == "new call answers"
        assert time.monotonic() - started < 5
        abandoned = [t for t in threading.enumerate() if t.name.startswith("omni-detective ")]
        assert len(abandoned) >= len(hung) and all(t.daemon for t in abandoned)
    finally:
        release.set()


async def test_sync_functions_and_langchain_tools_run_in_daemon_threads(audio: MediaInfo) -> None:
    from langchain_core.tools import tool as lc_tool

    from detective.tools import as_tool

    def where(media: MediaInfo, query: Query) -> str:
        """Say which thread answers."""
        return threading.current_thread().name

    @lc_tool
    def lc_where(question: str) -> str:
        """Say which thread answers."""
        return threading.current_thread().name

    @lc_tool
    async def lc_async(question: str) -> str:
        """Answer on the event loop."""
        return threading.current_thread().name

    query = Query(tool="where", question="which thread?")
    answers = [(await as_tool(t).aobserve(audio, query))[0].content for t in (where, lc_where, lc_async)]
    assert answers == ["omni-detective where.observe", "omni-detective lc_where.invoke", "MainThread"]


class HungTool(Tool):
    """A synchronous tool stuck until ``release`` is set (a model stuck in a C library)."""

    name = "hung"
    description = "Never answers."
    modalities = ("audio",)

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        self.release.wait(3600)
        return []


class SteadyTool(Tool):
    """A synchronous tool that answers at once."""

    name = "steady"
    description = "Reports a tone."
    modalities = ("audio",)
    covers = ("sound",)

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        return [Observation(tool=self.name, kind="sound_event", content="tone", span=TimeSpan(start=0, end=1))]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_a_hung_sync_tool_fails_its_query_at_the_observer_timeout(release: threading.Event) -> None:
    media = MediaInfo(source="tone.wav", duration=1.0, has_audio=True)
    tools = [HungTool(release), SteadyTool()]
    detective = Detective(tools=tools, planner="rule", captioner="evidence", offline=True, observer_timeout=0.5)
    started = time.monotonic()
    result = detective.run("tone.wav", media=media)
    assert time.monotonic() - started < 10
    assert [o.content for o in result.evidence.observations] == ["tone"]
    [failure] = result.evidence.failures
    assert failure.tool == "hung"
    assert failure.error.startswith("hung on tone.wav: no answer within 0.5 s (observer_timeout)")


def test_leaving_a_stream_early_cancels_the_run_instead_of_waiting(release: threading.Event) -> None:
    media = MediaInfo(source="tone.wav", duration=1.0, has_audio=True)
    tools = [HungTool(release), SteadyTool()]
    detective = Detective(tools=tools, planner="rule", captioner="evidence", offline=True, observer_timeout=20)
    started = time.monotonic()
    for event in detective.stream("tone.wav", media=media):
        if isinstance(event, Observed):  # steady answered; hung holds the round for 20 s
            break
    assert time.monotonic() - started < 10


def test_default_timeouts() -> None:
    config = DetectiveConfig()
    assert config.observer_timeout == 300
    assert config.download_timeout == default_download_timeout() == 600
    env = {"OMNI_DETECTIVE_OBSERVER_TIMEOUT": "12.5", "OMNI_DETECTIVE_DOWNLOAD_TIMEOUT": "30"}
    assert DetectiveConfig.from_env(env).observer_timeout == 12.5
    assert DetectiveConfig.from_env(env, download_timeout=5).download_timeout == 5


# --- downloads ----------------------------------------------------------------------------------------------


class Trickle(AppServer):
    """Announces a megabyte, then sends it a byte every 50 ms (a server that would take 14 hours)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{name}", self.slow)
        return app

    async def slow(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = 1_000_000
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):  # the client gave up
            while True:
                await response.write(b"\0")
                await asyncio.sleep(0.05)
        return response


@pytest.fixture
def trickle() -> Iterator[Trickle]:
    with Trickle() as server:
        yield server


def _url(server: Trickle) -> str:
    return f"{server.base}/slow.mp4"


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private temporary directory for downloads, empty at the start."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def test_a_trickling_download_fails_at_its_deadline(trickle: Trickle, temp_root: Path) -> None:
    url = _url(trickle)
    started = time.monotonic()
    with pytest.raises(MediaError) as caught:
        open_media(url, download_timeout=1.0)
    assert time.monotonic() - started < 5
    assert str(caught.value).startswith(f"{url}: download did not finish within 1 s (download_timeout;")
    assert list(temp_root.iterdir()) == []


async def test_a_cancelled_download_stops_at_once_and_leaves_nothing(trickle: Trickle, temp_root: Path) -> None:
    task = asyncio.create_task(aopen_media(_url(trickle)))
    for _ in range(200):
        if trickle.requests and list(temp_root.iterdir()):
            break
        await asyncio.sleep(0.025)
    assert list(temp_root.iterdir()), "the download never started"
    task.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1
    assert list(temp_root.iterdir()) == []


def _caption(url: str, temp: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OMNI_DETECTIVE_"))}
    env.update(TMPDIR=str(temp), PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "detective", "caption", url, "--offline", *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_caption_of_a_trickling_url_ends_at_the_download_timeout(trickle: Trickle, tmp_path: Path) -> None:
    url = _url(trickle)
    proc = _caption(url, tmp_path, "--download-timeout", "1")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"{url}: download did not finish within 1 s" in stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_stops_caption_during_a_download(trickle: Trickle, tmp_path: Path) -> None:
    proc = _caption(_url(trickle), tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not (trickle.requests and list(tmp_path.iterdir())) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.05)
        assert list(tmp_path.iterdir()), "the download never started"
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, stderr = proc.communicate(timeout=20)
        seconds = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    assert seconds < 10, f"stopped {seconds:.1f} s after Ctrl-C"  # the interpreter's own teardown takes 3 s here
    assert list(tmp_path.iterdir()) == []


def _wait_for_download(proc: subprocess.Popen[str], trickle: Trickle, temp: Path, n: int = 1) -> None:
    deadline = time.monotonic() + 90
    while not (len(trickle.requests) >= n and len(list(temp.iterdir())) >= n) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        time.sleep(0.05)
    assert len(list(temp.iterdir())) >= n, "the downloads never started"


def test_sigterm_stops_caption_during_a_download_and_removes_it(trickle: Trickle, tmp_path: Path) -> None:
    proc = _caption(_url(trickle), tmp_path)
    try:
        _wait_for_download(proc, trickle, tmp_path)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr[-3000:]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("executor", ["local", "processes"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_run_removes_its_partial_downloads(
    trickle: Trickle, tmp_path: Path, executor: str, sig: signal.Signals
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(f'{{"id": {i}, "url": "{trickle.base}/c{i}.mp4"}}\n' for i in range(2)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OMNI_DETECTIVE_"))}
    env.update(TMPDIR=str(temp), PYTHONUNBUFFERED="1")
    out = tmp_path / "o.jsonl"
    args = [sys.executable, "-m", "detective", "run", "--input", str(manifest), "--output", str(out), "--offline"]
    if executor == "processes":
        args += ["--processes", "2"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_download(proc, trickle, temp, n=2)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, stderr[-3000:]
    assert "Traceback" not in stderr and "terminate called" not in stderr
    assert [p.name for p in temp.iterdir()] == []
