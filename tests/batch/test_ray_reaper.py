"""The reaper of a local Ray session, on stand-in processes (no Ray needed): what it kills and what it spares."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from detective.jobs import ray_executor
from detective.jobs.ray_reaper import session_processes

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc (Linux)")

HOLD = "import sys, time; f = open(sys.argv[1], 'a'); time.sleep(120)"


def _holder(script_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """A process holding ``log`` open whose command line runs a script from ``script_dir``."""
    script_dir.mkdir(parents=True, exist_ok=True)
    script = script_dir / "holder.py"
    script.write_text(HOLD)
    proc = subprocess.Popen([sys.executable, str(script), str(log)])
    deadline = time.monotonic() + 30
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def _wait(proc: subprocess.Popen[bytes], seconds: float) -> int | None:
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def test_the_reaper_kills_the_sessions_ray_processes_once_let_go(tmp_path: Path) -> None:
    session = tmp_path / "session_1"
    (session / "logs").mkdir(parents=True)
    other = tmp_path / "session_2"
    (other / "logs").mkdir(parents=True)
    ray_like = _holder(tmp_path / "site-packages" / "ray" / "agent", session / "logs" / "agent.log")
    not_ray = _holder(tmp_path / "tools", session / "logs" / "tail.log")  # e.g. someone reading the logs
    other_ray = _holder(tmp_path / "site-packages" / "ray" / "other", other / "logs" / "agent.log")
    try:
        found = session_processes(session)
        assert ray_like.pid in found and not_ray.pid not in found and other_ray.pid not in found
        ray_executor._start_reaper(str(session))
        time.sleep(0.5)
        assert ray_like.poll() is None  # nothing happens while this process holds its end of the pipe
        ray_executor._release_reaper()
        assert _wait(ray_like, 20) is not None, "the session's Ray process outlived the driver's release"
        assert not_ray.poll() is None and other_ray.poll() is None
    finally:
        for proc in (ray_like, not_ray, other_ray):
            proc.kill()
            proc.wait()


def test_the_reaper_kills_them_when_the_driver_is_killed(tmp_path: Path) -> None:
    """A driver that started the reaper and dies by ``kill -9`` never lets it go: end of file does."""
    session = tmp_path / "session_1"
    (session / "logs").mkdir(parents=True)
    ray_like = _holder(tmp_path / "site-packages" / "ray" / "agent", session / "logs" / "agent.log")
    code = (
        "import sys, time; from detective.jobs import ray_executor; "
        "ray_executor._start_reaper(sys.argv[1]); print('up', flush=True); time.sleep(120)"
    )
    driver = subprocess.Popen([sys.executable, "-c", code, str(session)], stdout=subprocess.PIPE)
    try:
        assert driver.stdout is not None and driver.stdout.readline() == b"up\n"
        assert ray_like.poll() is None
        driver.kill()
        driver.wait()
        assert _wait(ray_like, 20) is not None, "the session's Ray process outlived a driver killed with kill -9"
    finally:
        for proc in (ray_like, driver):
            proc.kill()
            proc.wait()
        if driver.stdout is not None:
            driver.stdout.close()


def test_the_driver_is_spared(tmp_path: Path) -> None:
    session = tmp_path / "session_1"
    (session / "logs").mkdir(parents=True)
    ray_like = _holder(tmp_path / "site-packages" / "ray" / "agent", session / "logs" / "agent.log")
    try:
        assert session_processes(session) == [ray_like.pid]
        assert session_processes(session, spare=ray_like.pid) == []
    finally:
        ray_like.kill()
        ray_like.wait()
