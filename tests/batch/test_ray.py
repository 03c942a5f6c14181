"""The Ray executor: loopback only, actors that die and restart, two nodes, the CLI flags."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from detective_testserver import ChatServer

from detective.agent.batch import BatchConfig, run_batch

pytest.importorskip("ray")

TWO_NODES = Path(__file__).with_name("ray_two_nodes.py")


def test_ray_listens_on_loopback_only(ray_session: str) -> None:
    from detective.testing.ray import listening_addresses

    addresses = listening_addresses(os.getpid())
    assert addresses, "no Ray process found listening"
    assert all(a.startswith(("127.0.0.1:", "::1:")) for a in addresses), addresses
    assert ray_session.startswith("127.0.0.1:")


class KillsItsActor:
    """A Detective whose actor process is killed with SIGKILL on one clip (a native crash, an OOM kill)."""

    def __init__(self, inner: Any, victim: str) -> None:
        self.inner = inner
        self.victim = victim

    async def arun(self, source: str, *, clip: str | None = None) -> Any:
        if source.endswith(self.victim):
            os.kill(os.getpid(), signal.SIGKILL)
        return await self.inner.arun(source, clip=clip)


def test_an_actor_killed_fails_only_its_clips_and_is_restarted(
    tmp_path: Path, manifest: Path, helpers: Any, ray_session: str
) -> None:
    from detective.testing.ray import ship_by_value

    ship_by_value([sys.modules[__name__], sys.modules[helpers.__module__]])
    out = tmp_path / "out.jsonl"
    with ChatServer() as server:
        make = helpers.factory(helpers.settings(server.url))

        def factory() -> KillsItsActor:
            return KillsItsActor(make(), "clip07.wav")

        # one actor: every clip after the kill is captioned by the actor Ray restarted
        config = BatchConfig(manifest, out, workers=4, executor="ray", ray_actors=1, ray_actor_options={"num_cpus": 0})
        summary = run_batch(config, factory, io.StringIO())
        errors = helpers.read(tmp_path / "out.errors.jsonl")
        assert 1 <= summary.failed <= 4 and summary.done + summary.failed == 40
        assert 7 in {e["id"] for e in errors}
        assert all(e["error_type"] == "WorkerLost" and e["retryable"] and "Ray actor 0" in e["error"] for e in errors)
        done = {r["id"] for r in helpers.read(out)}
        assert max(done) > max(e["id"] for e in errors)  # clips after the lost ones were done: the actor came back

        config = BatchConfig(manifest, out, workers=4, executor="ray", ray_actor_options={"num_cpus": 0})
        again = run_batch(config, make, io.StringIO())
    assert again.done == summary.failed and again.skipped == summary.done and again.failed == 0
    assert sorted(r["id"] for r in helpers.read(out)) == list(range(40))


def test_two_nodes(tmp_path: Path, clip_dir: Path) -> None:
    """Actors on two Ray nodes (``ray.cluster_utils.Cluster``, both on loopback), one writer: every clip once."""
    records = [{"id": i, "path": str(clip_dir / f"clip{i:02d}.wav")} for i in range(12)]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "out.jsonl"
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    run = subprocess.run(
        [sys.executable, str(TWO_NODES), str(manifest), str(out)], env=env, capture_output=True, text=True, timeout=400
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(report["nodes"]) == 2 and report["done"] == 12
    assert all(a.startswith(("127.0.0.1:", "::1:")) for a in report["listening"]), report["listening"]
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == list(range(12))


def _marked(mark: str, folder: Path) -> list[int]:
    """Live processes whose environment carries ``AUDIT_MARK=mark`` (everything a driver's Ray starts inherits it)
    or that hold a file open under ``folder`` (Ray's session lives there): Ray's agents rewrite their process title
    over their environment, so only the second finds them."""
    needle = f"AUDIT_MARK={mark}".encode()
    root = str(folder.resolve()) + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] in {"Z", "X"}:
                    continue
                marked = needle in (entry / "environ").read_bytes().split(b"\0")
                if marked or any(os.readlink(fd).startswith(root) for fd in (entry / "fd").iterdir()):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
    except OSError:
        return "?"


def test_no_ray_process_outlives_a_driver_killed_with_sigkill(tmp_path: Path, manifest: Path) -> None:
    """The driver starts its own Ray (no address); after ``kill -9`` its raylet, GCS, agents and actors all go."""
    import time

    worker = Path(__file__).with_name("crash_worker.py")
    out = tmp_path / "out.jsonl"
    temp = Path(tempfile.mkdtemp(prefix="rk-", dir="/tmp"))  # Ray's socket paths must stay short
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(AUDIT_MARK=temp.name, TMPDIR=str(temp), PYTHONUNBUFFERED="1")
    with ChatServer(latency=0.05) as server:
        args = [sys.executable, str(worker), str(manifest), str(out), server.url, str(tmp_path / "c.sqlite"), "ray"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 240
            while not out.exists() or not out.read_bytes().count(b"\n"):
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-3000:]
                time.sleep(0.05)
            started = _marked(temp.name, temp)
            assert any(_cmdline(p).startswith("ray::DashboardAgent") for p in started), started
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stderr.close()
    # "a few seconds" (issue 28): the raylet and GCS die with the driver, the workers within about 2 s, Ray's two
    # agents (which alone would wait a minute for the dead GCS) and the reaper within about 3 s
    deadline = time.monotonic() + 20
    while _marked(temp.name, temp) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _marked(temp.name, temp)
    what = {pid: _cmdline(pid) for pid in left}
    for pid in left:  # never leave them running on a shared machine
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert left == [], f"Ray processes outlived their driver by more than 20 s: {what}"
