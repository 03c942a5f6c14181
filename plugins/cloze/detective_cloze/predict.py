"""``cloze predict``: judge every record of a JSONL file, a job of the core's engine (:mod:`detective.jobs`).

The same rules as ``omni-detective run``: the one resume key (``id``, else ``uuid``, else a content hash;
:mod:`detective.jobs.keys`), a streamed input with at most ``workers`` records in flight, whole fsynced output
lines, a torn last line cut off, one writer per output, a finished-keys index beside the output. Failures go to
the errors sidecar (``OUT.errors.jsonl``), never into the output, and the next run judges them again: a judge
call that failed (endpoint errors after the client's retries) and a record that cannot be judged (malformed:
no blanks, unreadable cloze); a line that is not a JSON object is reported and skipped. Any of these makes the
run exit 1. A judge reply that stays unreadable after the repair attempts is upstream's "all E" and is written
as a record with ``judge.failed``; ``retry_failed`` judges those again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog

from detective.jobs import Item, Job, JobConfig, LocalExecutor, Work, output_key
from detective.jobs.executors import Executor
from detective.jsonl import RecordError, bounded_lines, parse_record
from detective_cloze.records import ClozeFormatError

log = structlog.get_logger("detective_cloze.predict")

#: Fields ``predict`` adds to a record.
ADDED_FIELDS = ("judge", "predictions")


class Judge(Protocol):
    """Anything with ``describe()`` and ``async judge(record) -> dict`` (both judges in :mod:`.judges`)."""

    def describe(self) -> dict[str, Any]:
        """Name, model, endpoint host and prompt hash."""

    async def judge(self, record: dict[str, Any]) -> dict[str, Any]:
        """The output record for ``record``."""


class ClozeInputError(ValueError):
    """An input or output file that cannot be read; the message names the file and line."""


class MalformedRecord(ValueError):
    """A record that cannot be judged (no blanks, unreadable cloze): not retried within the run."""

    retryable = False


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
    invalid_lines: int = 0
    duplicate_inputs: int = 0
    torn_lines_repaired: int = 0
    seconds: float = 0.0
    exit_code: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The summary as a plain dict."""
        return asdict(self)


def key_of(record: dict[str, Any]) -> str:
    """The resume key of an input or output record (the core's one rule, without the fields predict adds)."""
    return output_key(record, ADDED_FIELDS)


def read_jsonl(path: str | Path) -> Any:
    """``(line number, record)`` for every non-blank line; raises :class:`ClozeInputError` on a bad one."""
    with open(path, "rb") as handle:
        for number, (line, _) in enumerate(bounded_lines(handle), start=1):
            if line is not None and not line.strip():
                continue
            try:
                record = parse_record(line)
            except RecordError as exc:
                raise ClozeInputError(f"{path} line {number}: {exc}") from exc
            yield number, record


def _judge_failed(record: dict[str, Any]) -> bool:
    judge = record.get("judge")
    return isinstance(judge, dict) and bool(judge.get("failed"))


@dataclass
class JudgeWork:
    """The work of a predict job: ``judge`` (or ``factory()``, called once per worker) judges records."""

    judge: Judge | None = None
    factory: Callable[[], Judge] | None = None

    def __call__(self) -> Work:
        """A work bound to a judge."""
        judge = self.judge if self.judge is not None else self.factory()  # type: ignore[misc]

        async def judge_record(item: Item) -> dict[str, Any]:
            try:
                return await judge.judge(item.record)
            except ClozeFormatError as exc:
                raise MalformedRecord(f"record cannot be judged: {exc}") from exc

        return judge_record


async def run_predict(
    input_path: str | Path,
    output_path: str | Path,
    judge: Judge | None,
    *,
    workers: int = 100,
    retry_failed: bool = False,
    executor: Executor | None = None,
    stream: TextIO | None = None,
    progress: bool | None = None,
) -> PredictSummary:
    """Judge every record of ``input_path`` not yet in ``output_path`` with at most ``workers`` in flight.

    ``executor`` runs the work elsewhere (build it over :class:`JudgeWork`); by default ``judge`` runs here.
    """
    config = JobConfig(
        input_path=Path(input_path),
        output_path=Path(output_path),
        workers=workers,
        retries=0,  # the judge's LLM client retries its calls; a record that still fails waits for the next run
        title="cloze predict",
        unit="records",
        show_usage=False,  # the judge meters its calls in its own RunServices, not per record
        added_fields=ADDED_FIELDS,
        drop=_judge_failed if retry_failed else None,
        progress=progress,
    )
    if executor is None:
        assert judge is not None, "give a judge or an executor"
        executor = LocalExecutor(JudgeWork(judge), retries=0)
    summary = PredictSummary()
    job = Job(config, executor, stream)

    def count(item: Item, record: dict[str, Any]) -> None:
        info = record.get("judge") or {}
        if not info.get("failed"):
            summary.judged += 1
        elif info.get("error_kind") == "context":
            summary.context_failures += 1
        else:
            summary.judge_failures += 1
        summary.cached += bool(info.get("cached"))
        summary.caption_missing += bool(info.get("caption_missing"))

    job.on_done = count
    result = await job.run()
    for entry in job.errors.values():
        if entry["error_type"] == "MalformedRecord":
            summary.record_errors += 1
        elif entry["error_type"] != "InvalidRecord":
            summary.call_failures += 1
    summary.invalid_lines = result.invalid
    summary.already_done = result.skipped
    summary.duplicate_inputs = result.duplicates
    summary.torn_lines_repaired = int(result.torn_bytes > 0)
    summary.input_records = result.done + result.failed + result.skipped + result.duplicates
    summary.seconds = round(result.seconds, 3)
    summary.exit_code = result.exit_code
    return summary
