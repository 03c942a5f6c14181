"""The errors sidecar of a job: one JSON line per failed record, rewritten at the end of each run.

Entries: ``key``, ``line``, ``source``, ``error``, ``error_type``, ``retryable``, ``attempts``, ``time`` (UTC ISO
8601 of the last attempt), plus the record's ``id``/``uuid``. Invalid manifest lines are keyed ``line:<n>``.
Failed records are not in the output, so the next run tries them again.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
from pathlib import Path
from typing import Any

from detective.jobs.jsonl import atomic_file, iter_records


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def load_errors(path: Path) -> dict[str, dict[str, Any]]:
    """Entries of an errors file by key (later lines win); unreadable lines are ignored."""
    entries: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return entries
    for _number, entry in iter_records(path):
        if isinstance(entry.get("key"), str):
            entries[entry["key"]] = entry
    return entries


def write_errors(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the errors file atomically (removed when there is nothing to list)."""
    if not entries:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    with atomic_file(path, sync=True) as fh:
        for entry in entries:
            fh.write((json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8"))
