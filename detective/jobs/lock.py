"""One writer per output: an exclusive ``flock`` on ``OUT.lock`` held for the whole run.

The lock file holds who took it (pid, host, command, start time), so a second run on the same output refuses
with a message naming the running one. The kernel drops a ``flock`` when its holder dies, even by ``kill -9``,
so a lock left behind by a killed run is simply taken by the next one: no stale lock to clean up by hand.
Forked worker processes close their copy of the descriptor (the lock stays with the parent).

The lock is keyed on the output's real identity, so no other name for the same file gets round it: the lock file
sits beside the output's resolved path (a symlink, or a symlinked folder, leads to the same lock file), and the
output file itself is locked too (a ``flock`` belongs to the inode, so a hard link meets it as well).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

_held: set[int] = set()


def _close_in_child() -> None:
    for fd in list(_held):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class OutputLocked(RuntimeError):
    """Another run holds the output: the message names it and says what to do."""


class OutputLock:
    """``with OutputLock(path):`` holds an exclusive lock on ``path`` or raises :class:`OutputLocked`."""

    def __init__(self, path: Path, output: Path) -> None:
        self.path = Path(path)
        self.output = Path(output)
        self._fd: int | None = None
        self._output_fd: int | None = None
        self._identity: tuple[int, int] | None = None

    def acquire(self) -> None:
        """Take the lock without waiting; raise :class:`OutputLocked` naming the holder when it is taken."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise OutputLocked(
                f"{self.output} is being written by another run ({_describe(holder)}); "
                f"wait for it to finish or stop it, then run again (lock: {self.path})"
            ) from None
        self._fd = fd
        _held.add(fd)
        try:
            self.hold_output()
        except BaseException:
            self.release()
            raise
        os.ftruncate(fd, 0)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
        }
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)

    def hold_output(self) -> None:
        """Lock the output file itself (created empty when absent), or keep holding it.

        Called again after the output was rewritten (a new inode in its place): the lock moves to the new file.

        :raises OutputLocked: another run holds this file under another name (a hard link).
        """
        fd = os.open(self.output, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        st = os.fstat(fd)
        identity = (st.st_dev, st.st_ino)
        if identity == self._identity:
            os.close(fd)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLocked(
                f"{self.output} is being written by another run under another name for the same file (device "
                f"{st.st_dev}, inode {st.st_ino}: a hard link to it); wait for it to finish or stop it, then "
                "run again"
            ) from None
        self._drop_output()
        self._output_fd, self._identity = fd, identity
        _held.add(fd)

    def _drop_output(self) -> None:
        if self._output_fd is not None:
            _held.discard(self._output_fd)
            with contextlib.suppress(OSError):
                os.close(self._output_fd)
        self._output_fd, self._identity = None, None

    def release(self) -> None:
        """Release the lock (the file stays; its content is replaced by the next holder)."""
        self._drop_output()
        if self._fd is None:
            return
        _held.discard(self._fd)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = os.pread(fd, 4096, 0)
        holder = json.loads(data or b"{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "details unknown"
    parts = [f"pid {holder.get('pid')} on {holder.get('host')}"]
    if holder.get("started"):
        parts.append(f"started {holder['started']}")
    if holder.get("command"):
        parts.append(f"command: {holder['command']}")
    return ", ".join(parts)
