"""Streaming a JSONL manifest: one :class:`Item` per valid line, one :class:`Invalid` per line that is not."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detective.jobs.jsonl import RecordError, bounded_lines, parse_record
from detective.jobs.keys import label, record_key


@dataclass
class Item:
    """One valid manifest record to work on. Picklable: it crosses to worker processes and Ray actors."""

    line: int
    key: str
    record: dict[str, Any]
    source: str = ""
    end: int = 0  # byte offset after the line in the manifest

    @property
    def label(self) -> str:
        """A short name for messages: the id or uuid, else the source."""
        return label(self.record, self.source or f"line {self.line}")


@dataclass
class Done:
    """A manifest line whose key is already done (not checked further: resuming skips it cheaply)."""

    line: int
    key: str
    end: int = 0


@dataclass
class Invalid:
    """A manifest line that cannot be processed, with the reason."""

    line: int
    error: str
    end: int = 0


#: Checks a record and returns its source (media path or URL, or ``""``); raises ``ValueError`` when unusable.
Check = Callable[[dict[str, Any]], str]


def read_manifest(
    path: Path,
    check: Check | None = None,
    done: set[str] | frozenset[str] = frozenset(),
    offset: int = 0,
    line: int = 0,
) -> Iterator[Item | Invalid | Done]:
    """Stream the manifest: an :class:`Item` per valid line, an :class:`Invalid` per bad one (blank lines skip),
    a :class:`Done` per line whose key is in ``done``; from byte ``offset``, which follows line number ``line``.

    A line is invalid when it is longer than :data:`~detective.jobs.jsonl.MAX_LINE_BYTES`, not UTF-8, not a JSON
    object, nested deeper than :data:`~detective.jobs.jsonl.MAX_DEPTH`, or ``check`` raises ``ValueError`` for it. A
    UTF-8 byte-order mark before line 1 is accepted.
    """
    with path.open("rb") as fh:
        fh.seek(offset)
        end = offset
        for number, (raw, length) in enumerate(bounded_lines(fh), start=line + 1):
            end += length
            if raw is not None and not raw.strip():
                continue
            try:
                record = parse_record(raw)
            except RecordError as exc:
                yield Invalid(number, str(exc), end)
                continue
            key = record_key(record)
            if key in done:
                yield Done(number, key, end)
                continue
            try:
                source = check(record) if check is not None else ""
            except ValueError as exc:
                yield Invalid(number, str(exc), end)
                continue
            yield Item(number, key, record, source, end)


def count_lines(path: os.PathLike[str] | str, offset: int = 0, stop: threading.Event | None = None) -> int | None:
    """Non-blank lines of ``path`` from byte ``offset`` (a manifest's records left to read); None if ``stop`` is set
    first or the file cannot be read."""
    count = 0
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            for number, raw in enumerate(fh):
                if raw.strip():
                    count += 1
                if number % 65536 == 0 and stop is not None and stop.is_set():
                    return None
    except OSError:
        return None
    return count
