"""One writer per output: a second run refuses and names the first; a lock of a killed run is taken over."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from detective.jobs import OutputLock, OutputLocked


def test_second_holder_is_refused_with_the_first_named(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    with OutputLock(tmp_path / "o.lock", out):
        with pytest.raises(OutputLocked) as info:
            OutputLock(tmp_path / "o.lock", out).acquire()
        message = str(info.value)
        assert str(out) in message and f"pid {os.getpid()}" in message and "started" in message
    with OutputLock(tmp_path / "o.lock", out):  # released: taken again
        pass


def test_lock_of_a_process_killed_with_sigkill_is_taken_over(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from detective.jobs import OutputLock\n"
        "OutputLock(Path(sys.argv[1]), Path(sys.argv[2])).acquire()\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n"
    )
    lock = tmp_path / "o.lock"
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock), str(tmp_path / "o.jsonl")], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"locked"
        with pytest.raises(OutputLocked, match=f"pid {proc.pid}"):
            OutputLock(lock, tmp_path / "o.jsonl").acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
    deadline = time.monotonic() + 5
    while True:
        try:
            OutputLock(lock, tmp_path / "o.jsonl").acquire()
            break
        except OutputLocked:
            assert time.monotonic() < deadline, "the lock of a killed process was never released"
            time.sleep(0.05)
    assert f'"pid": {os.getpid()}' in lock.read_text()


def test_forked_children_do_not_keep_the_lock(tmp_path: Path) -> None:
    lock = OutputLock(tmp_path / "o.lock", tmp_path / "o.jsonl")
    lock.acquire()
    ready, tell = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child sleeps, holding whatever it inherited
        os.write(tell, b"x")  # the at-fork hooks have run by now
        time.sleep(3)
        os._exit(0)
    try:
        readable, _, _ = select.select([ready], [], [], 30)  # a child stuck in an at-fork hook fails, never hangs
        assert readable and os.read(ready, 1) == b"x", "the forked child never got past its at-fork hooks"
        lock.release()
        OutputLock(tmp_path / "o.lock", tmp_path / "o.jsonl").acquire()  # the child's copy was closed at fork
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.close(ready)
        os.close(tell)


def _job_lock(out: Path) -> OutputLock:
    from detective.jobs import sidecar_path

    return OutputLock(sidecar_path(out.resolve(), ".lock"), out)  # as the job engine takes it


def test_a_symlink_to_the_output_meets_the_same_lock(tmp_path: Path) -> None:
    real = tmp_path / "real" / "o.jsonl"
    real.parent.mkdir()
    (tmp_path / "link.jsonl").symlink_to(real)
    (tmp_path / "linked").symlink_to(real.parent, target_is_directory=True)
    with _job_lock(real):
        for other in (tmp_path / "link.jsonl", tmp_path / "linked" / "o.jsonl"):
            with pytest.raises(OutputLocked, match="being written by another run"):
                _job_lock(other).acquire()


def test_a_hard_link_to_the_output_meets_the_lock(tmp_path: Path) -> None:
    real = tmp_path / "o.jsonl"
    real.write_text("")
    os.link(real, tmp_path / "hard.jsonl")
    with _job_lock(real), pytest.raises(OutputLocked, match="another name for the same file"):
        _job_lock(tmp_path / "hard.jsonl").acquire()
    with _job_lock(tmp_path / "hard.jsonl"):  # released: the other name takes it
        pass


def test_two_runs_through_a_symlink_write_each_clip_once(tmp_path: Path) -> None:
    import asyncio
    import io
    import json

    from detective.jobs import Item, Job, JobConfig, LocalExecutor

    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(20)))
    out = tmp_path / "o.jsonl"
    (tmp_path / "link.jsonl").symlink_to(out)

    def make() -> object:
        async def work(item: Item) -> dict[str, object]:
            await asyncio.sleep(0.01)
            return {**item.record, "done": True}

        return work

    async def both() -> list[object]:
        jobs = [
            Job(JobConfig(manifest, path, workers=2, added_fields=("done",)), LocalExecutor(make, 0), io.StringIO())
            for path in (out, tmp_path / "link.jsonl")
        ]
        return await asyncio.gather(*(j.run() for j in jobs), return_exceptions=True)

    results = asyncio.run(both())
    assert sum(isinstance(r, OutputLocked) for r in results) == 1
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == list(range(20))
