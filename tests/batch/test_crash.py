"""A batch run killed with SIGKILL at random moments, then resumed: every record exactly once, every line whole."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from detective_testserver import ChatServer

WORKER = Path(__file__).with_name("crash_worker.py")


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts: it runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    except OSError:
        return True


def _actors() -> list[int]:
    """Process ids of live Ray actors of the job engine (Ray titles them ``ray::JobActor``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::JobActor") and not _gone(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("executor", ["local", "processes", "ray"])
def test_kill_9_then_resume(tmp_path: Path, manifest: Path, executor: str, request: pytest.FixtureRequest) -> None:
    out = tmp_path / "out.jsonl"
    cache = tmp_path / "cache.sqlite"
    rng = random.Random(11)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if executor == "ray":  # the driver joins the session's Ray; its actors must die with it
        env["RAY_ADDRESS"] = request.getfixturevalue("ray_session")
    with ChatServer(latency=0.05) as server:
        args = [sys.executable, str(WORKER), str(manifest), str(out), server.url, str(cache), executor]
        kills = 0
        orphans: list[int] = []
        for _ in range(3 if executor == "ray" else 4):
            before = _lines(out)
            proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            # Wait until this run has written something, then kill it at a random moment shortly after.
            while _lines(out) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.25))
            if proc.poll() is None:
                workers = _actors() if executor == "ray" else _children(proc.pid)
                proc.send_signal(signal.SIGKILL)
                kills += 1
                orphans += workers
            proc.wait(timeout=30)
            assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr.read().decode()[-2000:]
            proc.stderr.close()
        assert kills >= 2
        # worker processes notice that their parent is gone and exit: nothing keeps running unsupervised
        deadline = time.monotonic() + 10
        while not all(_gone(pid) for pid in orphans) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in orphans), f"worker processes outlived their parent: {orphans}"
        if executor != "local":
            assert orphans
        assert _lines(out) < 40 or kills < 3
        final = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ids = [r["id"] for r in records]
    assert sorted(ids) == list(range(40)), f"duplicates or gaps: {sorted(ids)}"
    assert all(r["caption"].startswith("## Storyline") and r["split"] == "test" for r in records)
    assert "0 failed" in final.stderr
