"""Exactly-once JSONL output: whole-line appends with group-committed fsync, and repair of a torn last line.

A run killed at any moment (even ``kill -9``) leaves at most one torn last line: every line is written with one
``write`` call (looped only if the OS writes short) and is complete before the next starts. The next run cuts the
torn tail with :func:`cut_torn_tail` and skips the records already there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any


def cut_torn_tail(path: Path) -> int:
    """Truncate ``path`` after its last newline; returns the number of bytes cut (0 when the file is whole)."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("r+b") as fh:
        block = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - block)
            fh.seek(start)
            chunk = fh.read(end - start)
            if end == size and chunk.endswith(b"\n"):
                return 0
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return size - keep


class JsonlAppender:
    """Appends records as whole JSON lines and returns once an fsync covers each one.

    Group commit: the fsync runs in a worker thread (it takes milliseconds and would stall every request in
    flight), and one fsync covers every line written before it started, so a burst of lines costs one or two.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._dirty = False
        self._sync_lock: asyncio.Lock | None = None

    def _write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._dirty = True
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def write(self, record: dict[str, Any]) -> int:
        """Serialise ``record`` as one JSON line and append it (not yet fsynced); returns the file's new size."""
        return self._write((json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8"))

    async def append(self, record: dict[str, Any]) -> int:
        """Append ``record`` as one JSON line and wait until it is on disk; returns the file's size after it."""
        end = self.write(record)
        await self.sync()
        return end

    async def sync(self) -> None:
        """Wait until every line written so far is on disk (one fsync covers every line written before it)."""
        if self._sync_lock is None:
            self._sync_lock = asyncio.Lock()
        async with self._sync_lock:
            if not self._dirty:
                return  # an fsync that started after this line was written has finished
            self._dirty = False
            await asyncio.to_thread(os.fsync, self._fd)

    def close(self) -> None:
        """Close the file."""
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
