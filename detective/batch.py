"""The batch pipeline: caption every clip of a JSONL manifest, exactly once, resumably, within limits.

How a run goes:

1. **Repair and resume.** The output file is scanned; a torn last line (a run killed mid-write) is truncated
   away and reported; the keys of the records already there are *done* and skipped.
2. **Read the manifest** line by line (streamed, so millions of lines are fine). A line that is not UTF-8, not a
   JSON object, or names no media is *invalid*: reported by line number, the rest go on. A key seen twice is a
   *duplicate*: reported, processed once.
3. **Caption** with ``workers`` clips in flight, each through a Detective (``arun``), all sharing one
   :class:`~detective.llm.EndpointLimits` and one cache. A clip whose error is retryable (a transient LLM or
   network failure) is tried again up to ``retries`` more times.
4. **Write** each finished clip as ONE line: a single ``write`` of the whole line, then flush and ``fsync``,
   under a lock. A kill at any moment leaves at most one torn last line, which step 1 of the next run removes.
5. **Record failures** in the errors file (see :func:`sidecar_path`), one JSON line per clip: ``key``, ``line``,
   ``source``, ``error``, ``error_type``, ``retryable``, ``attempts``, ``time`` (UTC ISO 8601 of the last attempt).
   Failed clips are not in the output, so the next run retries them; the errors file is rewritten at the end of
   each run so it lists only the clips that are failed now (and invalid manifest lines, keyed ``line:<n>``).

The resume key of a record is its ``id``, else its ``uuid``, else the sha1 of its canonical JSON; it is also
stored as ``provenance.record_key`` in each output record.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import gc
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import structlog

from detective.jsonl import JsonlAppender, cut_torn_tail
from detective.models import Usage

log = structlog.get_logger("detective.batch")

#: Fields that name a clip's media, in order of preference.
MEDIA_FIELDS = ("path", "video_path", "audio_path", "url")
#: Fields the pipeline adds to each record (besides the caption field).
ADDED_FIELDS = ("caption_struct", "omni_detective_trajectory", "evidence", "usage", "provenance", "stop_reason")


class DetectiveLike(Protocol):
    """What the pipeline needs of a Detective: ``await arun(source, clip=label) -> RunResult``."""

    async def arun(self, source: str, *, clip: str | None = None) -> Any:
        """Caption one clip."""


@dataclass
class BatchConfig:
    """Everything a batch run needs besides the Detective factory."""

    input_path: Path
    output_path: Path
    workers: int = 10
    media_root: Path | None = None
    caption_field: str = "caption"
    retries: int = 1
    errors_path: Path | None = None
    price_table: dict[str, dict[str, float]] | None = None
    progress: bool | None = None  # None: a progress line only when standard error is a terminal
    progress_interval: float = 0.5
    processes: int = 1  # >1: clips are captioned in that many worker processes (see detective.batch_pool)
    limit: int | None = None  # caption at most this many clips not yet done, then stop (run again to go on)

    def __post_init__(self) -> None:
        self.input_path = Path(self.input_path)
        self.output_path = Path(self.output_path)
        self.media_root = Path(self.media_root) if self.media_root is not None else None
        if self.errors_path is None:
            self.errors_path = sidecar_path(self.output_path, ".errors.jsonl")
        self.errors_path = Path(self.errors_path)
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries}")
        if self.processes < 1:
            raise ValueError(f"processes must be at least 1, got {self.processes}")


def sidecar_path(output: Path | str, suffix: str) -> Path:
    """A file beside the output: ``out.jsonl`` + ``.errors.jsonl`` gives ``out.errors.jsonl``.

    A ``.jsonl``/``.ndjson``/``.json`` extension of the output is replaced; any other name is kept whole.
    """
    output = Path(output)
    if output.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        return output.with_name(output.stem + suffix)
    return output.with_name(output.name + suffix)


# --- keys and manifest ------------------------------------------------------------------------------------


def record_key(record: dict[str, Any]) -> str:
    """The resume key: ``id:<id>``, else ``uuid:<uuid>``, else ``sha1:<hex of the canonical JSON>``."""
    for name in ("id", "uuid"):
        value = record.get(name)
        if value is not None and value != "":
            return f"{name}:{json.dumps(value, sort_keys=True, ensure_ascii=False)}"
    blob = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha1:" + hashlib.sha1(blob.encode()).hexdigest()


def output_key(record: dict[str, Any], caption_field: str = "caption") -> str:
    """The resume key of an output record (``provenance.record_key`` when present)."""
    prov = record.get("provenance")
    if isinstance(prov, dict) and isinstance(prov.get("record_key"), str):
        return prov["record_key"]
    if record.get("id") is None and record.get("uuid") in (None, ""):
        skip = {caption_field, *ADDED_FIELDS, "notes"}
        record = {k: v for k, v in record.items() if k not in skip}
    return record_key(record)


@dataclass
class Item:
    """One valid manifest record to caption."""

    line: int
    key: str
    record: dict[str, Any]
    source: str

    @property
    def label(self) -> str:
        """A short name for messages: the id or uuid, else the source."""
        for name in ("id", "uuid"):
            if self.record.get(name) not in (None, ""):
                return f"{name}={self.record[name]}"
        return self.source


@dataclass
class Invalid:
    """A manifest line that cannot be processed."""

    line: int
    error: str


def media_source(record: dict[str, Any], manifest_dir: Path, media_root: Path | None) -> str:
    """The clip's source: a URL as is, an absolute path as is, a relative path under ``media_root`` or the
    manifest's folder. Raises ``ValueError`` when the record names no media."""
    for name in MEDIA_FIELDS:
        value = record.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"field {name!r} must be a string, got {type(value).__name__}")
        if value.startswith(("http://", "https://")):
            return value
        if value.startswith("file://"):
            value = value[len("file://") :]
        path = Path(os.path.expanduser(value))
        if not path.is_absolute():
            path = (media_root or manifest_dir) / path
        return str(path)
    raise ValueError(f"no media field (expected one of {', '.join(MEDIA_FIELDS)})")


def read_manifest(path: Path, media_root: Path | None = None) -> Iterator[Item | Invalid]:
    """Stream the manifest: an :class:`Item` per valid line, an :class:`Invalid` per bad one (blank lines skip)."""
    manifest_dir = path.resolve().parent
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Invalid(number, f"not UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})")
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Invalid(number, f"invalid JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(record, dict):
                yield Invalid(number, f"expected a JSON object, got {type(record).__name__}")
                continue
            try:
                source = media_source(record, manifest_dir, media_root)
            except ValueError as exc:
                yield Invalid(number, str(exc))
                continue
            yield Item(number, record_key(record), record, source)


# --- output file ------------------------------------------------------------------------------------------


@dataclass
class OutputScan:
    """What was found in an existing output file."""

    done: set[str] = field(default_factory=set)
    torn_bytes: int = 0
    bad_lines: list[int] = field(default_factory=list)
    duplicate_lines: list[int] = field(default_factory=list)


def repair_output(path: Path, caption_field: str = "caption") -> OutputScan:
    """Scan the output: cut a torn last line away and collect the keys already done."""
    scan = OutputScan(torn_bytes=cut_torn_tail(path))
    if not path.exists():
        return scan
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                key = output_key(record, caption_field)
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, TypeError):
                scan.bad_lines.append(number)
                continue
            if key in scan.done:
                scan.duplicate_lines.append(number)
            scan.done.add(key)
    return scan


def load_errors(path: Path) -> dict[str, dict[str, Any]]:
    """Entries of an errors file by key (later lines win); unreadable lines are ignored."""
    entries: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return entries
    with path.open("rb") as fh:
        for raw in fh:
            try:
                entry = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                entries[entry["key"]] = entry
    return entries


def write_errors(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the errors file atomically (removed when there is nothing to list)."""
    if not entries:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for entry in entries:
            fh.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --- results ----------------------------------------------------------------------------------------------


def estimate_cost(usage: Usage, prices: dict[str, dict[str, float]] | None) -> float | None:
    """Dollars for ``usage`` under a price table ``{model: {"prompt": $/1M, "completion": $/1M}}``.

    ``None`` without a table; models missing from the table count as free (and are listed by the summary).
    """
    if not prices:
        return None
    total = 0.0
    for model, mu in usage.models.items():
        price = prices.get(model)
        if price:
            total += mu.prompt_tokens * float(price.get("prompt", 0.0)) / 1e6
            total += mu.completion_tokens * float(price.get("completion", 0.0)) / 1e6
    return total


def build_record(item: Item, result: Any, caption_field: str, prices: dict[str, dict[str, float]] | None) -> dict:
    """The output record: the input fields plus the caption and everything the run produced."""
    record = dict(item.record)
    record[caption_field] = result.caption_markdown
    record["caption_struct"] = result.caption.model_dump(mode="json")
    record["omni_detective_trajectory"] = result.trajectory
    record["evidence"] = result.evidence.model_dump(mode="json")
    record["media"] = result.media.model_dump(mode="json")
    record["rounds"] = [r.model_dump(mode="json") for r in result.rounds]
    usage = result.usage.summary()
    cost = estimate_cost(result.usage, prices)
    if cost is not None:
        usage["cost_usd"] = round(cost, 6)
    record["usage"] = usage
    record["provenance"] = {**result.provenance.model_dump(mode="json"), "record_key": item.key}
    record["stop_reason"] = result.stop_reason
    if getattr(result, "grounding", None) is not None:
        record["grounding"] = result.grounding.model_dump(mode="json")
    if getattr(result, "notes", None):
        record["notes"] = list(result.notes)
    return record


def is_retryable(exc: BaseException) -> bool:
    """True for errors worth another attempt: transient LLM failures, timeouts, dropped connections."""
    from detective.media import MediaError

    if isinstance(exc, MediaError):
        return False
    if getattr(exc, "retryable", False):
        return True
    return isinstance(exc, TimeoutError | ConnectionError)


@dataclass
class Outcome:
    """How one clip ended: its output record, or the error of its last attempt. Picklable (crosses processes)."""

    key: str
    attempts: int
    seconds: float
    record: dict[str, Any] | None = None
    usage: Usage | None = None
    stop_reason: str = ""
    error: str = ""
    error_type: str = ""
    retryable: bool = False


async def caption_item(detective: DetectiveLike, item: Item, config: BatchConfig) -> Outcome:
    """Caption one clip, retrying a retryable failure up to ``config.retries`` times; never raises for the clip."""
    attempts = 0
    started = time.monotonic()
    while True:
        attempts += 1
        try:
            result = await detective.arun(item.source, clip=item.label)
            record = build_record(item, result, config.caption_field, config.price_table)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            retry = is_retryable(exc)
            if retry and attempts <= config.retries:
                log.info("clip retry", clip=item.label, attempt=attempts, error=str(exc)[:300])
                continue
            return Outcome(
                key=item.key,
                attempts=attempts,
                seconds=time.monotonic() - started,
                error=str(exc) or type(exc).__name__,
                error_type=type(exc).__name__,
                retryable=retry,
            )
        return Outcome(
            key=item.key,
            attempts=attempts,
            seconds=time.monotonic() - started,
            record=record,
            usage=result.usage,
            stop_reason=result.stop_reason,
        )


@dataclass
class BatchSummary:
    """The outcome of a batch run."""

    output_path: Path
    errors_path: Path
    done: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0
    duplicates: int = 0
    torn_bytes: int = 0
    previously_failed: int = 0
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    cost_usd: float | None = None
    unpriced_models: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0 when every clip is captioned and every line was valid; 1 otherwise (130 when interrupted)."""
        if self.interrupted:
            return 130
        return 1 if (self.failed or self.invalid) else 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "output": str(self.output_path),
            "errors": str(self.errors_path),
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "repaired_bytes": self.torn_bytes,
            "llm_calls": self.usage.llm_calls,
            "cached_calls": sum(m.cached_calls for m in self.usage.models.values()),
            "tokens": self.usage.total_tokens,
            "observer_calls": self.usage.observer_calls,
            "per_model": {
                name: {**m.model_dump(), "total_tokens": m.total_tokens} for name, m in self.usage.models.items()
            },
            "seconds": round(self.seconds, 3),
            "clips_per_minute": round(60.0 * self.done / self.seconds, 2) if self.seconds > 0 else None,
            "cost_usd": round(self.cost_usd, 6) if self.cost_usd is not None else None,
            "unpriced_models": self.unpriced_models,
            "interrupted": self.interrupted,
        }

    def render(self) -> str:
        """The human summary printed at the end of a run."""
        cached = sum(m.cached_calls for m in self.usage.models.values())
        lines = [
            f"omni-detective run: {self.done} done, {self.failed} failed, {self.skipped} skipped (already done), "
            f"{self.invalid} invalid, {self.duplicates} duplicate in {self.seconds:.1f} s"
            + (" (interrupted)" if self.interrupted else ""),
            f"  LLM calls {self.usage.llm_calls} (+{cached} from cache), tokens {self.usage.total_tokens}, "
            f"observer calls {self.usage.observer_calls}"
            + (f", cost ${self.cost_usd:.4f}" if self.cost_usd is not None else ""),
        ]
        for name, mu in sorted(self.usage.models.items()):
            lines.append(
                f"  {name}: {mu.calls} calls, {mu.prompt_tokens} prompt + {mu.completion_tokens} completion tokens"
                + (f", {mu.cached_calls} cached" if mu.cached_calls else "")
            )
        if self.unpriced_models:
            lines.append(f"  no price for: {', '.join(self.unpriced_models)} (counted as $0)")
        lines.append(f"  output: {self.output_path}")
        if self.failed or self.invalid:
            lines.append(f"  errors: {self.errors_path} (failed clips are retried by the next run)")
        return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------------------------

#: Allocations between young-generation collections during a batch run (CPython's default is 700).
GC_YOUNG_THRESHOLD = 50_000


@contextlib.contextmanager
def batch_gc() -> Iterator[None]:
    """Garbage collection tuned for a long run of many small clips, restored afterwards.

    Everything alive when the run starts (imported modules, models, the tool box) is frozen out of the
    collector's view, and young collections run every 50 000 allocations instead of 700. Full collections that
    walk every object otherwise stall all the clips in flight for tens of milliseconds; measured on the
    pipeline benchmark (50 clips in flight) this is worth about 4% of throughput.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class _Progress:
    """A carriage-return progress line on standard error."""

    def __init__(self, summary: BatchSummary, stream: TextIO, started: float) -> None:
        self.summary = summary
        self.stream = stream
        self.started = started
        self.shown = False

    def show(self) -> None:
        s = self.summary
        elapsed = max(1e-9, time.monotonic() - self.started)
        self.stream.write(
            f"\r{s.done} done, {s.failed} failed, {s.skipped} skipped, {s.done / elapsed:.2f} clips/s, "
            f"{s.usage.llm_calls} calls, {s.usage.total_tokens} tokens   "
        )
        self.stream.flush()
        self.shown = True

    async def loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.show()

    def end(self) -> None:
        if self.shown:
            self.show()
            self.stream.write("\n")
            self.stream.flush()


class BatchRun:
    """One batch run. Use :func:`arun_batch` / :func:`run_batch` unless you need the pieces."""

    def __init__(self, config: BatchConfig, factory: Callable[[], DetectiveLike], stream: TextIO | None = None):
        self.config = config
        self.factory = factory
        self.stream = stream or sys.stderr
        assert config.errors_path is not None
        self.summary = BatchSummary(output_path=config.output_path, errors_path=config.errors_path)
        self.errors: dict[str, dict[str, Any]] = {}
        self.succeeded: set[str] = set()
        self._error_writer: JsonlAppender | None = None
        self._pool: Any = None

    def say(self, message: str) -> None:
        """Print a report line to standard error (above the progress line)."""
        self.stream.write(("\r" if self._progress_on else "") + message + "\n")
        self.stream.flush()

    @property
    def _progress_on(self) -> bool:
        if self.config.progress is not None:
            return self.config.progress
        return bool(getattr(self.stream, "isatty", lambda: False)())

    async def run(self) -> BatchSummary:
        """Process the manifest; returns the summary (never raises for a clip's failure)."""
        with batch_gc():
            return await self._run()

    async def _run(self) -> BatchSummary:
        cfg = self.config
        started = time.monotonic()
        if not cfg.input_path.is_file():
            raise FileNotFoundError(f"manifest {cfg.input_path} does not exist or is not a file")
        scan = repair_output(cfg.output_path, cfg.caption_field)
        self.summary.torn_bytes = scan.torn_bytes
        if scan.torn_bytes:
            self.say(
                f"repaired {cfg.output_path}: removed a torn last line ({scan.torn_bytes} bytes) "
                "left by an interrupted run"
            )
            log.warning("output repaired", output=str(cfg.output_path), torn_bytes=scan.torn_bytes)
        for number in scan.bad_lines:
            self.say(f"warning: {cfg.output_path} line {number} is not a readable record; its clip will be redone")
        if scan.duplicate_lines:
            self.say(
                f"warning: {cfg.output_path} holds {len(scan.duplicate_lines)} duplicate record(s), "
                f"lines {scan.duplicate_lines[:10]}"
            )
        assert cfg.errors_path is not None
        previous = load_errors(cfg.errors_path)
        self.summary.previously_failed = sum(1 for k in previous if k not in scan.done and not k.startswith("line:"))
        if self.summary.previously_failed:
            self.say(f"retrying {self.summary.previously_failed} clip(s) that failed in an earlier run")

        if cfg.processes > 1:
            from detective.batch_pool import ProcessPool

            # started before the output files are opened, so the worker processes never hold them
            self._pool = ProcessPool(cfg, self.factory)
            self._pool.start()
        writer = JsonlAppender(cfg.output_path)
        self._error_writer = JsonlAppender(cfg.errors_path)
        queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=cfg.workers * 2)
        progress = _Progress(self.summary, self.stream, started)
        ticker = asyncio.create_task(progress.loop(cfg.progress_interval)) if self._progress_on else None
        workers = [asyncio.create_task(self._worker(queue, writer)) for _ in range(cfg.workers)]
        completed = False
        try:
            seen: dict[str, int] = {}
            queued = 0
            for entry in read_manifest(cfg.input_path, cfg.media_root):
                if cfg.limit is not None and queued >= cfg.limit:
                    self.say(f"--limit {cfg.limit}: {queued} clip(s) taken; run the same command again to go on")
                    break
                if isinstance(entry, Invalid):
                    self.summary.invalid += 1
                    message = f"{cfg.input_path} line {entry.line}: {entry.error}"
                    self.say(f"invalid: {message}")
                    log.warning("invalid manifest line", line=entry.line, error=entry.error)
                    self.errors[f"line:{entry.line}"] = {
                        "key": f"line:{entry.line}",
                        "line": entry.line,
                        "source": None,
                        "error": message,
                        "error_type": "InvalidRecord",
                        "retryable": False,
                        "attempts": 0,
                        "time": _now(),
                    }
                    continue
                if entry.key in seen:
                    self.summary.duplicates += 1
                    self.say(
                        f"duplicate: line {entry.line} repeats key {entry.key} of line {seen[entry.key]}; "
                        "processed once"
                    )
                    continue
                seen[entry.key] = entry.line
                if entry.key in scan.done:
                    self.summary.skipped += 1
                    continue
                await queue.put(entry)
                queued += 1
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
            completed = True
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if self._pool is not None:
                self._pool.close()
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            writer.close()
            self._error_writer.close()
            self.summary.interrupted = not completed
            if completed:
                entries = list(self.errors.values())
            else:  # keep earlier failures not resolved by this partial run
                merged = {k: v for k, v in previous.items() if k not in self.succeeded}
                merged.update(self.errors)
                entries = list(merged.values())
            entries.sort(key=lambda e: (e.get("line") or 0, e["key"]))
            write_errors(cfg.errors_path, entries)
            self.summary.seconds = time.monotonic() - started
            self.summary.cost_usd = estimate_cost(self.summary.usage, cfg.price_table)
            if cfg.price_table:
                self.summary.unpriced_models = sorted(m for m in self.summary.usage.models if m not in cfg.price_table)
            progress.end()
            self.stream.write(self.summary.render() + "\n")
            self.stream.flush()
        return self.summary

    async def _worker(self, queue: asyncio.Queue[Item | None], writer: JsonlAppender) -> None:
        detective: DetectiveLike | None = None
        while True:
            item = await queue.get()
            if item is None:
                return
            if self._pool is not None:
                outcome = await self._pool.submit(item)
            else:
                if detective is None:
                    detective = self.factory()
                outcome = await caption_item(detective, item, self.config)
            await self._settle(item, outcome, writer)

    async def _settle(self, item: Item, outcome: Outcome, writer: JsonlAppender) -> None:
        if outcome.record is None:
            await self._fail(item, outcome)
            return
        await writer.append(outcome.record)
        self.summary.done += 1
        if outcome.usage is not None:
            self.summary.usage = self.summary.usage.merge(outcome.usage)
        self.succeeded.add(item.key)
        self.errors.pop(item.key, None)
        log.info(
            "clip done",
            clip=item.label,
            key=item.key,
            seconds=round(outcome.seconds, 3),
            attempts=outcome.attempts,
            llm_calls=outcome.usage.llm_calls if outcome.usage else 0,
            tokens=outcome.usage.total_tokens if outcome.usage else 0,
            stop_reason=outcome.stop_reason,
        )

    async def _fail(self, item: Item, outcome: Outcome) -> None:
        raw = outcome.error
        message = raw if item.source in raw else f"{item.label} ({item.source}): {raw}"
        entry = {
            "key": item.key,
            "line": item.line,
            "source": item.source,
            "error": message,
            "error_type": outcome.error_type,
            "retryable": outcome.retryable,
            "attempts": outcome.attempts,
            "time": _now(),
        }
        for name in ("id", "uuid"):
            if name in item.record:
                entry[name] = item.record[name]
        self.errors[item.key] = entry
        self.summary.failed += 1
        self.say(f"failed: line {item.line} {item.label} ({item.source}): {outcome.error_type}: {raw}")
        log.warning(
            "clip failed",
            clip=item.label,
            key=item.key,
            error_type=outcome.error_type,
            error=message,
            attempts=outcome.attempts,
        )
        assert self._error_writer is not None
        await self._error_writer.append(entry)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


async def arun_batch(
    config: BatchConfig, factory: Callable[[], DetectiveLike], stream: TextIO | None = None
) -> BatchSummary:
    """Caption every clip of ``config.input_path`` into ``config.output_path``; see the module docstring.

    ``factory`` builds a Detective; it is called once per worker, so build shared things (cache, limits) outside.
    """
    return await BatchRun(config, factory, stream).run()


def run_batch(config: BatchConfig, factory: Callable[[], DetectiveLike], stream: TextIO | None = None) -> BatchSummary:
    """Synchronous :func:`arun_batch`."""
    return asyncio.run(arun_batch(config, factory, stream))
