"""``cloze predict``: judge every record of a JSONL file, a job of the core's engine (:mod:`detective.jobs`).

The same rules as ``omni-detective run``: the one resume key (``id``, else ``uuid``, else a content hash;
:mod:`detective.jobs.keys`), a streamed input with at most ``workers`` records in flight, whole fsynced output
lines, a torn last line cut off, one writer per output, a finished-keys index beside the output. Failures go to
the errors sidecar (``OUT.errors.jsonl``), never into the output: a judge call that failed (endpoint errors
after the client's retries) is judged again by the next run; a record that cannot be judged (malformed: no
blanks, unreadable cloze) is a permanent failure, skipped by the next run unless ``retry_failed``; a line that
is not a JSON object is reported and skipped. Any of these makes the run exit 1. A judge reply that stays
unreadable after the repair attempts is upstream's "all E" and is written as a record with ``judge.failed``;
``retry_failed`` judges those again too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog

from detective.jobs import Item, Job, JobConfig, LocalExecutor, Work, output_key
from detective.jobs.executors import Executor
from detective.jobs.jsonl import RecordError, bounded_lines, parse_record
from detective.progress import job_display
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


class CaptionFieldError(ValueError):
    """The caption field to score cannot be settled: absent from every record, or two candidates and no choice."""


#: The field a Detective run writes its caption to for Omni-Cloze records, and where hand-made predictions live.
PREDICTED_FIELD = "predicted_caption"
#: The field of a Detective caption written by ``omni-detective run --caption-field caption`` (or an older run).
DETECTIVE_FIELD = "caption"


def _has_text(record: dict[str, Any], field: str) -> bool:
    value = record.get(field)
    return isinstance(value, str) and bool(value.strip())


def resolve_caption_field(input_path: str | Path, given: str | None) -> tuple[str, int, int]:
    """The field ``predict`` scores, the records holding a caption there and the records read.

    With ``given``, that field, refused when no record holds text there. Without, the one candidate present:
    ``predicted_caption``, or ``caption`` of a Detective output (beside ``caption_struct``); refused when neither
    is, or when both are, since scoring a hand-written ``predicted_caption`` instead of the Detective's caption
    (or the reverse) is the silent mistake this check is for. Raises :class:`CaptionFieldError`.
    """
    records = predicted = detective = 0
    in_given = 0
    for _number, record in read_jsonl(input_path):
        records += 1
        predicted += _has_text(record, PREDICTED_FIELD)
        detective += _has_text(record, DETECTIVE_FIELD) and "caption_struct" in record
        if given:
            in_given += _has_text(record, given)
    if given:
        if not in_given:
            raise CaptionFieldError(
                f"{input_path}: no record holds a caption in '{given}' ({records} records read); "
                f"name the field that holds them with --caption-field"
            )
        return given, in_given, records
    if predicted and detective:
        raise CaptionFieldError(
            f"{input_path}: {predicted} record(s) hold a '{PREDICTED_FIELD}' and {detective} a Detective caption in "
            f"'{DETECTIVE_FIELD}'; say which to score: --caption-field {DETECTIVE_FIELD} (the Detective's) or "
            f"--caption-field {PREDICTED_FIELD}"
        )
    if predicted:
        return PREDICTED_FIELD, predicted, records
    if detective:
        return DETECTIVE_FIELD, detective, records
    raise CaptionFieldError(
        f"{input_path}: no record holds a caption ('{PREDICTED_FIELD}', or a Detective's '{DETECTIVE_FIELD}'; "
        f"{records} records read); caption the clips first (omni-detective run --input {input_path} --output "
        "OUT.jsonl) or name the field with --caption-field"
    )


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
        retry_failed=retry_failed,
        progress=progress,
        display=job_display,
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


def failures_of(summary: PredictSummary) -> str | None:
    """What makes the judged scores untrustworthy (failed judge replies, missing captions), or ``None``."""
    parts = []
    if summary.judge_failures:
        parts.append(f"{summary.judge_failures} judge repl(ies) unreadable after the repair attempts")
    if summary.context_failures:
        parts.append(f"{summary.context_failures} record(s) too long for the judge model's context")
    if summary.caption_missing:
        parts.append(f"{summary.caption_missing} record(s) without a caption")
    return "; ".join(parts) or None
