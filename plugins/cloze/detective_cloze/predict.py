"""``cloze predict``: judge every record of a JSONL file concurrently, writing results as they complete.

Resumable: records already in the output (keyed by ``uuid``, else ``id``, else ``video_path``) are skipped; each
output line is written whole, flushed and fsynced; a torn last line from an interrupted run is cut off. Records
whose judge call failed (endpoint errors after the client's retries) are written with the error, counted as E, and
judged again by the next run; so are all failed records with ``retry_failed``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from detective.jsonl import JsonlAppender, cut_torn_tail
from detective.llm import LLMError
from detective_cloze.judges import sha
from detective_cloze.records import NOT_GIVEN, ClozeFormatError, parse_cloze, record_key

log = structlog.get_logger("detective_cloze.predict")


class Judge(Protocol):
    """Anything with ``describe()`` and ``async judge(record) -> dict`` (both judges in :mod:`.judges`)."""

    def describe(self) -> dict[str, Any]:
        """Name, model, endpoint host and prompt hash."""

    async def judge(self, record: dict[str, Any]) -> dict[str, Any]:
        """The output record for ``record``."""


class ClozeInputError(ValueError):
    """An input or output file that cannot be read; the message names the file and line."""


@dataclass
class PredictSummary:
    """What one ``predict`` run did."""

    input_records: int = 0
    already_done: int = 0
    judged: int = 0
    cached: int = 0
    caption_missing: int = 0
    judge_failures: int = 0
    call_failures: int = 0
    context_failures: int = 0
    record_errors: int = 0
    duplicate_inputs: int = 0
    torn_lines_repaired: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The summary as a plain dict."""
        return asdict(self)


def key_of(record: dict[str, Any]) -> str:
    """The resume key of an input or output record (a content hash when it has no ``uuid``/``id``/path)."""
    key = record_key(record)
    if key is not None:
        return key
    bare = {k: v for k, v in record.items() if k not in ("judge", "predictions")}
    return "sha:" + sha(json.dumps(bare, sort_keys=True, ensure_ascii=False))


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` for every non-blank line; raises :class:`ClozeInputError` on a bad one."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ClozeInputError(f"{path} line {number}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict):
                raise ClozeInputError(f"{path} line {number}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def _needs_retry(record: dict[str, Any], retry_failed: bool) -> bool:
    judge = record.get("judge")
    if not isinstance(judge, dict) or not judge.get("failed"):
        return False
    return retry_failed or judge.get("error_kind") == "call"


class OutputFile:
    """The output JSONL: repaired and compacted on open, then appended one whole, fsynced line at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._appender: JsonlAppender | None = None

    def prepare(self, retry_failed: bool = False) -> tuple[set[str], int]:
        """Repair the file and return ``(keys already done, torn lines cut)``.

        A torn last line (no newline: the run was killed mid-write) is cut off; unreadable lines and records to
        be judged again are dropped; a key seen twice keeps its last record. The file is rewritten atomically
        only when something changed.
        """
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return set(), 0
        cut = cut_torn_tail(self.path)
        if cut:
            log.warning("cutting torn last line", path=str(self.path), bytes=cut)
        torn = int(cut > 0)
        data = self.path.read_bytes()
        kept: dict[str, str] = {}
        changed = bool(torn)
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                changed = True
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                log.warning("dropping unreadable output line", path=str(self.path), line=number)
                changed = True
                continue
            if not isinstance(record, dict):
                changed = True
                continue
            key = key_of(record)
            if key in kept:
                changed = True
                del kept[key]  # keep the last record, at the end
            if _needs_retry(record, retry_failed):
                changed = True
                continue
            kept[key] = line
        if changed:
            tmp = self.path.with_name(self.path.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.writelines(line + "\n" for line in kept.values())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        return set(kept), torn

    def __enter__(self) -> OutputFile:
        self._appender = JsonlAppender(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._appender is not None:
            self._appender.close()
            self._appender = None

    async def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one whole line and return once an fsync covers it (group commit)."""
        assert self._appender is not None, "use OutputFile as a context manager"
        await self._appender.append(record)


def _failed_record(record: dict[str, Any], judge: Judge, kind: str, error: str) -> dict[str, Any]:
    info = dict(judge.describe())
    info.update(raw_reply=None, failed=True, error_kind=kind, error=error)
    out = dict(record)
    out["judge"] = info
    predictions: dict[str, str | None] = {}
    if kind == "call":
        # Counted as not given, like upstream's failed items, and judged again by the next run.
        predictions = dict.fromkeys(parse_cloze(record).blank_ids, NOT_GIVEN)
    out["predictions"] = predictions
    return out


async def run_predict(
    input_path: str | Path,
    output_path: str | Path,
    judge: Judge,
    *,
    workers: int = 100,
    retry_failed: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PredictSummary:
    """Judge every record of ``input_path`` not yet in ``output_path`` with at most ``workers`` in flight."""
    started = time.monotonic()
    summary = PredictSummary()
    output = OutputFile(output_path)
    done, summary.torn_lines_repaired = output.prepare(retry_failed)
    pending: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, record in read_jsonl(input_path):
        summary.input_records += 1
        key = key_of(record)
        if key in seen:
            summary.duplicate_inputs += 1
            log.warning("duplicate input record skipped", path=str(input_path), line=number, key=key)
            continue
        seen.add(key)
        if key in done:
            summary.already_done += 1
            continue
        pending.append(record)
    semaphore = asyncio.Semaphore(max(1, workers))
    finished = 0

    async def one(record: dict[str, Any]) -> None:
        nonlocal finished
        async with semaphore:
            try:
                result = await judge.judge(record)
            except ClozeFormatError as exc:
                summary.record_errors += 1
                log.warning("record cannot be judged", key=key_of(record), error=str(exc))
                result = _failed_record(record, judge, "record", f"{key_of(record)}: {exc}")
            except LLMError as exc:
                summary.call_failures += 1
                log.warning("judge call failed", key=key_of(record), error=str(exc))
                result = _failed_record(record, judge, "call", str(exc))
        info = result["judge"]
        if not info.get("failed"):
            summary.judged += 1
        elif info.get("error_kind") is None:
            summary.judge_failures += 1
        elif info.get("error_kind") == "context":
            summary.context_failures += 1
        summary.cached += bool(info.get("cached"))
        summary.caption_missing += bool(info.get("caption_missing"))
        await output.write(result)
        finished += 1
        if progress is not None:
            progress(finished, len(pending))

    with output:
        await asyncio.gather(*(one(r) for r in pending))
    summary.seconds = round(time.monotonic() - started, 3)
    return summary
