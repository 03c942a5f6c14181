"""Where a resume may start reading the manifest: the settled prefix, so 10M done lines are not parsed again.

A manifest line is *settled* when its record is in the output (written, fsynced) or its key was already done.
The checkpoint beside the output (``out.checkpoint.json``) holds the byte offset and line number up to which
every line of the manifest is settled, with the manifest's inode and a hash of the 4 KB before that offset. A
failed or invalid line is never settled, so the next run reads it again (and reports it again). The checkpoint is
saved at the end of a run and every :data:`SAVE_EVERY` settled lines; a stale one only means more reading, and
one that does not match the manifest (another file, rewritten, shorter) is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detective.jobs.jsonl import atomic_file

#: Settled lines between two saves of the checkpoint during a run.
SAVE_EVERY = 10_000
_PROBE = 4096


@dataclass
class Start:
    """Where to start reading: byte ``offset``, the number of the ``line`` before it, settled lines before it."""

    offset: int = 0
    line: int = 0
    skipped: int = 0


def _probe(manifest: Path, offset: int) -> str:
    with manifest.open("rb") as fh:
        fh.seek(max(0, offset - _PROBE))
        return hashlib.sha1(fh.read(min(offset, _PROBE))).hexdigest()


class Checkpoint:
    """Tracks the settled prefix of the manifest during a run; :meth:`load` gives where the last run got to."""

    def __init__(self, path: Path, manifest: Path) -> None:
        self.path = Path(path)
        self.manifest = Path(manifest)
        self.start = Start()
        self.offset, self.line, self.skipped = 0, 0, 0  # the settled prefix so far
        self._lines: deque[list[Any]] = deque()  # [line, end offset, settled] in manifest order, after the prefix
        self._frozen = False  # an unsettled line was given up on: nothing after it can settle this run
        self._since_save = 0

    def load(self) -> Start:
        """The start recorded by an earlier run on this manifest, or the beginning."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            st = self.manifest.stat()
            ok = (
                data["inode"] == st.st_ino
                and data["offset"] <= st.st_size
                and data["probe"] == _probe(self.manifest, int(data["offset"]))
            )
        except (OSError, ValueError, KeyError, TypeError):
            ok = False
        if ok:
            self.start = Start(int(data["offset"]), int(data["line"]), int(data["skipped"]))
        self.offset, self.line, self.skipped = self.start.offset, self.start.line, self.start.skipped
        return self.start

    def read(self, line: int, end: int, settled: bool) -> None:
        """A manifest line was read (``end``: the offset after it); ``settled`` when its key was already done."""
        if self._frozen:
            return
        if settled and not self._lines:
            self._advance(line, end)
            return
        self._lines.append([line, end, settled])

    def settle(self, line: int) -> None:
        """The record of ``line`` is in the output."""
        for entry in self._lines:
            if entry[0] == line:
                entry[2] = True
                break
        while self._lines and self._lines[0][2]:
            number, end, _ = self._lines.popleft()
            self._advance(number, end)

    def give_up(self, line: int) -> None:
        """``line`` failed or is invalid: the prefix cannot pass it in this run."""
        if not self._lines or self._lines[0][0] == line:
            self._frozen = True
            self._lines.clear()
            return
        # a later line failed while earlier ones are in flight: drop everything from it on
        while self._lines and self._lines[-1][0] >= line:
            self._lines.pop()
        self._frozen = True

    def _advance(self, line: int, end: int) -> None:
        self.offset, self.line = end, line
        self.skipped += 1  # a settled line is one a later run skips
        self._since_save += 1
        if self._since_save >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        """Write the checkpoint (atomically)."""
        self._since_save = 0
        with contextlib.suppress(OSError):
            data = {
                "manifest": str(self.manifest.resolve()),
                "inode": self.manifest.stat().st_ino,
                "offset": self.offset,
                "line": self.line,
                "skipped": self.skipped,
                "probe": _probe(self.manifest, self.offset),
            }
            with atomic_file(self.path) as fh:
                fh.write((json.dumps(data) + "\n").encode("utf-8"))
