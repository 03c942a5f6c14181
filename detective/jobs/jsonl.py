"""Exactly-once JSONL output: whole-line appends with group-committed fsync, and repair of a torn last line.

A run killed at any moment (even ``kill -9``) leaves at most one torn last line: every line is written with one
``write`` call (looped only if the OS writes short) and is complete before the next starts. The next run cuts the
torn tail with :func:`cut_torn_tail` and skips the records already there.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

#: ``errno`` values meaning the file system has no room left (a full disk, a user's quota).
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError):
    """A file could not be written for want of space: the message names the file and the free space left.

    An :class:`OSError` (``errno`` ``ENOSPC`` or ``EDQUOT``), so code that handles write failures handles it too.
    """

    def __init__(self, path: os.PathLike[str] | str, cause: OSError) -> None:
        self.path = Path(path)
        try:
            free = f"{shutil.disk_usage(self.path.parent).free:,} bytes free"
        except OSError:
            free = "free space unknown"
        super().__init__(
            cause.errno,
            f"{self.path}: the file system is full ({free}; {cause.strerror or cause}); "
            "make room or write elsewhere, then run the same command again to resume",
        )

    def __str__(self) -> str:
        return str(self.strerror)


def is_disk_full(exc: BaseException) -> bool:
    """True when ``exc`` is an :class:`OSError` for want of space (full disk or quota)."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


@contextlib.contextmanager
def atomic_file(path: Path, *, sync: bool = False) -> Iterator[BinaryIO]:
    """``with atomic_file(path) as fh:`` writes ``path.tmp`` and renames it over ``path`` at the end.

    On any failure the ``.tmp`` is removed and ``path`` is left as it was.

    :raises DiskFullError: the file system is full.
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as fh:
            yield fh
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if is_disk_full(exc):
            raise DiskFullError(path, exc) from exc  # type: ignore[arg-type]
        raise


#: Longest JSONL line read as a record (64 MiB): a longer one is reported by line number without being held whole.
MAX_LINE_BYTES = 64 << 20
#: Deepest nesting of arrays and objects a record may have: real records nest a handful of levels (a cloze record
#: 4, a caption record 7); deeper is a hostile or broken line, refused before Python's parser recurses on it.
MAX_DEPTH = 100
_BOM = b"\xef\xbb\xbf"


class RecordError(ValueError):
    """A JSONL line is not a usable record; the message says why (the caller adds the file and line number).

    ``not_object`` is true for valid JSON that is not an object (a reader of mixed files may skip those).
    """

    def __init__(self, message: str, *, not_object: bool = False) -> None:
        super().__init__(message)
        self.not_object = not_object
        #: The number of the line, where :func:`iter_records` raised it.
        self.line: int | None = None


def bounded_lines(fh: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[tuple[bytes | None, int]]:
    """``(line, length in bytes)`` for each line of a binary file; ``line`` is ``None`` when longer than ``limit``
    (skipped in blocks, never held whole). A UTF-8 byte-order mark at the start of the file is dropped (its three
    bytes still count in the first length, so offsets stay true)."""
    first = fh.tell() == 0
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        length = len(raw)
        if first:
            first = False
            if raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
        if len(raw) > limit and not raw.endswith(b"\n"):
            while not raw.endswith(b"\n"):
                raw = fh.readline(1 << 20)
                if not raw:
                    break
                length += len(raw)
            yield None, length
            continue
        yield raw, length


def _depth_over(value: Any, limit: int) -> bool:
    """True when ``value`` nests arrays and objects more than ``limit`` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def parse_record(raw: bytes | str | None, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """One JSONL line as a JSON object, within :data:`MAX_DEPTH` levels of nesting.

    ``None`` stands for a line :func:`bounded_lines` found too long. A leading UTF-8 byte-order mark is accepted.

    :raises RecordError: too long, not UTF-8, not JSON, too deeply nested, or not an object; the message says which.
    """
    if raw is None:
        raise RecordError(f"line longer than {MAX_LINE_BYTES:,} bytes: not read")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"not UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})") from None
    else:
        text = raw
    text = text.removeprefix("\ufeff")
    try:
        record = json.loads(text)
    except RecursionError:
        raise RecordError(f"nested deeper than {max_depth} levels (arrays and objects)") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}", not_object=True)
    # only a line with that many brackets can nest that deep: the walk is skipped for nearly every line
    if text.count("[") + text.count("{") > max_depth and _depth_over(record, max_depth):
        raise RecordError(f"nested deeper than {max_depth} levels (arrays and objects)")
    return record


def iter_records(
    source: str | os.PathLike[str] | BinaryIO, *, strict: bool = False, limit: int | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for each record of a JSONL file (a path, or a file opened in binary mode): the one
    reader of JSONL files, lines read by :func:`bounded_lines` and parsed by :func:`parse_record`.

    Blank lines are passed over. A line that is not a record (torn, not UTF-8, not JSON, too long or too deep, not
    an object) is skipped, or with ``strict`` raises :class:`RecordError` with ``line`` set to its number. ``limit``
    stops after that many lines.

    :raises OSError: a path that cannot be opened.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            yield from iter_records(fh, strict=strict, limit=limit)
        return
    for number, (raw, _length) in enumerate(bounded_lines(source), start=1):
        if limit is not None and number > limit:
            return
        if raw is not None and not raw.strip():
            continue
        try:
            record = parse_record(raw)
        except RecordError as exc:
            if strict:
                exc.line = number
                raise
            continue
        yield number, record


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
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            # part of the line may be in the file: cut it, so the file still ends with a whole line
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, start)
            if is_disk_full(exc):
                raise DiskFullError(self.path, exc) from exc
            raise
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
            try:
                await asyncio.to_thread(os.fsync, self._fd)
            except OSError as exc:  # delayed allocation: a full disk may first show at the fsync
                if is_disk_full(exc):
                    raise DiskFullError(self.path, exc) from exc
                raise

    def close(self) -> None:
        """Close the file."""
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
