"""A full file system under the output or the cache stops nothing in a hang and loses nothing written."""

from __future__ import annotations

import asyncio
import errno
import io
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import detective.jobs.jsonl
from detective.jobs import Item, Job, JobConfig, LocalExecutor
from detective.jobs.cache import SQLiteCache
from detective.jobs.jsonl import DiskFullError, JsonlAppender


def _manifest(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(n)))
    return path


def _job(manifest: Path, out: Path, workers: int = 3) -> Job:
    def make() -> Any:
        async def work(item: Item) -> dict[str, Any]:
            await asyncio.sleep(0)
            return {**item.record, "done": "x" * 200}

        return work

    config = JobConfig(manifest, out, workers=workers, added_fields=("done",))
    return Job(config, LocalExecutor(make, retries=0), io.StringIO())


@pytest.fixture
def room_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """``room_for[0] = n``: writes to the output after ``n`` more bytes fail with ENOSPC, part-way through a line."""
    left = [1 << 60]
    real = os.write

    def write(fd: int, data: Any) -> int:
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = min(len(data), left[0])
        left[0] -= n
        return real(fd, bytes(data[:n]))

    monkeypatch.setattr(detective.jobs.jsonl.os, "write", write)
    yield left


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_full_output_disk_stops_the_run_with_the_file_and_free_space(tmp_path: Path, room_for: list[int]) -> None:
    manifest = _manifest(tmp_path / "m.jsonl", 40)
    out = tmp_path / "o.jsonl"
    room_for[0] = 2500  # about ten lines, the last one cut short by the full disk
    job = _job(manifest, out)
    with pytest.raises(DiskFullError) as caught:
        asyncio.run(asyncio.wait_for(job.run(), 60))  # the deadline only guards the test against the old hang
    message = str(caught.value)
    assert str(out) in message and "bytes free" in message and "full" in message
    assert caught.value.errno == errno.ENOSPC
    text = out.read_text()
    assert text.endswith("\n")  # no torn last line: the part written was cut away
    written = _records(out)
    assert 0 < len(written) < 40 and len({r["id"] for r in written}) == len(written)
    assert job.summary.interrupted and 0 < job.summary.done <= len(written)  # lines still syncing count next run
    assert not list(tmp_path.glob("*.tmp"))
    # room again: the next run keeps every line written and does the rest, once each
    room_for[0] = 1 << 60
    summary = asyncio.run(_job(manifest, out).run())
    assert summary.exit_code == 0 and summary.torn_bytes == 0
    assert sorted(r["id"] for r in _records(out)) == list(range(40))


def test_the_appender_cuts_a_partial_line_and_names_the_file(tmp_path: Path, room_for: list[int]) -> None:
    path = tmp_path / "x.jsonl"
    with JsonlAppender(path) as out:
        out.write({"a": 1})
        room_for[0] = 5
        with pytest.raises(DiskFullError, match=r"x\.jsonl: the file system is full"):
            out.write({"b": "long enough to be cut"})
    assert path.read_text() == '{"a": 1}\n'


def test_atomic_files_leave_no_tmp_on_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from detective.jobs.errors import write_errors

    target = tmp_path / "o.errors.jsonl"
    target.write_text('{"key": "old"}\n')

    def full(*_: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(detective.jobs.jsonl.os, "fsync", full)
    with pytest.raises(DiskFullError, match=r"o\.errors\.jsonl"):
        write_errors(target, [{"key": "new"}])
    assert target.read_text() == '{"key": "old"}\n' and not list(tmp_path.glob("*.tmp"))


def test_a_full_cache_disk_turns_the_cache_off(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite")
    cache.put("observe", "a", {"x": 1})

    class Full:
        def execute(self, *_: Any) -> Any:
            raise sqlite3.OperationalError("database or disk is full")

    cache._local.conn = Full()  # this thread's connection now meets a full disk
    cache.put("observe", "b", {"x": 2})  # no error: the clip goes on without the cache
    assert cache.get("observe", "a") is None  # off for the rest of the run, like damage
    cache.close()
    assert SQLiteCache(tmp_path / "c.sqlite").get("observe", "a") == {"x": 1}


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def test_a_real_full_file_system(tmp_path: Path) -> None:
    """The same on a 1 MB tmpfs, where this machine lets the test mount one."""
    mount = tmp_path / "small"
    if not _tmpfs(mount, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected ENOSPC tests cover the same paths")
    try:
        manifest = _manifest(tmp_path / "m.jsonl", 8000)  # ~2 MB of output for a 1 MB file system
        out = mount / "o.jsonl"
        job = _job(manifest, out, workers=4)
        with pytest.raises(DiskFullError, match="bytes free"):
            asyncio.run(asyncio.wait_for(job.run(), 120))
        written = _records(out)  # parseable to the last line
        assert written and out.read_bytes().endswith(b"\n")
        assert not list(mount.glob("*.tmp"))
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_real_full_cache_file_system_turns_the_cache_off(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    if not _tmpfs(mount, "256k"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected error test covers the same path")
    try:
        cache = SQLiteCache(mount / "c.sqlite")
        for i in range(200):  # ~2 MB of entries for a 256 KB file system: the disk fills part-way
            cache.put("observe", f"k{i}", {"blob": "x" * 10_000})
        assert cache._broken  # off for the run, no clip failed for it
        assert cache.get("observe", "k0") is None
        cache.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
