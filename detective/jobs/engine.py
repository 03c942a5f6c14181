"""The job engine: every record of a JSONL manifest through an async work, exactly once, resumably, in bounds.

``omni-detective run`` (captions) and ``cloze predict`` (judgements) are both a :class:`Job`. How a run goes:

1. **Lock** the output (:mod:`detective.jobs.lock`): a second run on the same output refuses.
2. **Repair and resume** (:mod:`detective.jobs.output`): a torn last line is cut away and reported; the keys
   already done come from the finished-keys index beside the output (rebuilt from the output when missing).
3. **Stream the manifest** (:mod:`detective.jobs.manifest`): an unreadable line is *invalid* (reported by line
   number, listed in the errors file, the rest go on); a key seen twice is a *duplicate*, processed once. Keys
   follow one rule (:mod:`detective.jobs.keys`). With ``limit``, the feed stops after that many items to do
   (a job in parts: the next run goes on from there).
4. **Work** with at most ``workers`` items in flight on an executor (:mod:`detective.jobs.executors`); a
   retryable failure is tried again up to ``retries`` more times where the work runs.
5. **Write**: each done item is ONE whole, fsynced line, by this process only; its key goes to the index.
6. **Record failures** in the errors file (:mod:`detective.jobs.errors`); failed items are not in the output.
   The next run tries a *retryable* failure again; a *permanent* one (a missing or corrupt clip, a malformed
   record) is skipped and stays listed, unless ``retry_failed``. Each failure is one line on the terminal; the
   details go to the errors file and the JSON log. The exit code is 0 only when every item is done and every
   line was valid.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TextIO

import structlog

from detective.jobs.attempt import Outcome
from detective.jobs.checkpoint import Checkpoint
from detective.jobs.display import DisplayFactory, JobDisplay
from detective.jobs.errors import load_errors, now, write_errors
from detective.jobs.executors import Executor
from detective.jobs.gc import job_gc
from detective.jobs.jsonl import DiskFullError, JsonlAppender
from detective.jobs.keys import output_key
from detective.jobs.lock import OutputLock
from detective.jobs.manifest import Check, Done, Invalid, Item, count_lines, read_manifest
from detective.jobs.output import OutputFile, sidecar_path
from detective.jobs.summary import JobSummary, estimate_cost

log = structlog.get_logger("detective.jobs")


@dataclass
class JobBounds:
    """A job's files and bounds, the fields every job's configuration shares (``JobConfig``, the batch's
    ``BatchConfig``): their defaults and checks live here, once."""

    input_path: Path
    output_path: Path
    workers: int = 10  # items in flight at once
    retries: int = 1  # extra attempts at an item after a retryable failure
    errors_path: Path | None = None  # None: OUT.errors.jsonl beside the output
    price_table: dict[str, dict[str, float]] | None = None
    progress: bool | None = None  # None: a progress bar only when standard error is a terminal
    progress_interval: float = 0.5
    limit: int | None = None  # work on at most this many items not yet done, then stop (run again to go on)
    retry_failed: bool = False  # try again the items an earlier run failed permanently (skipped otherwise)

    def __post_init__(self) -> None:
        self.input_path = Path(self.input_path)
        self.output_path = Path(self.output_path)
        if self.errors_path is None:
            self.errors_path = sidecar_path(self.output_path, ".errors.jsonl")
        self.errors_path = Path(self.errors_path)
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")

    def bounds(self) -> dict[str, Any]:
        """The :class:`JobBounds` fields and their values (to build another job configuration from this one)."""
        return {f.name: getattr(self, f.name) for f in fields(JobBounds)}


@dataclass
class JobConfig(JobBounds):
    """What a job needs besides its executor: its files and bounds (:class:`JobBounds`), and how to read and show
    its records."""

    title: str = "omni-detective run"
    unit: str = "clips"  # what an item is, in messages
    show_usage: bool = True  # the usage line of the summary (off when the work meters its calls elsewhere)
    check: Check | None = None  # returns an item's source, raises ValueError for an unusable record
    added_fields: tuple[str, ...] = ()  # fields the work adds to a record (left out of a content-hash key)
    drop: Callable[[dict[str, Any]], bool] | None = None  # output records to do again (rewrites the output)
    display: DisplayFactory | None = None  # draws the progress (the front's UI); None: no live display


class Job:
    """One run of a job over a manifest; :meth:`run` returns its :class:`JobSummary`."""

    def __init__(self, config: JobConfig, executor: Executor, stream: TextIO | None = None) -> None:
        self.config = config
        self.executor = executor
        self.stream = stream or sys.stderr
        assert config.errors_path is not None
        self.summary = JobSummary(
            output_path=config.output_path,
            errors_path=config.errors_path,
            title=config.title,
            unit=config.unit,
            show_usage=config.show_usage,
        )
        self.errors: dict[str, dict[str, Any]] = {}
        self.succeeded: set[str] = set()
        #: called with each item and its output record once written (e.g. for a job's own counts)
        self.on_done: Callable[[Item, dict[str, Any]], None] | None = None
        self._output: OutputFile | None = None
        self._lock: OutputLock | None = None
        self.checkpoint: Checkpoint | None = None
        self._error_writer: JsonlAppender | None = None
        self.in_flight = 0  # items submitted to the executor and not back yet
        self._bar: JobDisplay | None = None
        self._listed: int | None = None  # manifest lines from where this run starts reading (counted in a thread)
        self._skipped_before = 0  # items settled before that point (from the checkpoint)

    def say(self, message: str) -> None:
        """Print a report line to standard error (above the progress bar)."""
        if self._bar is not None and self._bar.live:
            self._bar.print(message)
            return
        self.stream.write(message + "\n")
        self.stream.flush()

    def _total(self) -> int | None:
        """Items this run has to do: lines left to read less those done, duplicate or invalid; capped by limit."""
        if self._listed is None:
            return None
        s = self.summary
        total = self._listed - (s.skipped - self._skipped_before) - s.duplicates - s.invalid
        if self.config.limit is not None:
            total = min(total, self.config.limit)
        return max(total, s.done + s.failed)

    async def _show_progress(self, interval: float, offset: int) -> None:
        """Refresh the bar every ``interval`` seconds until cancelled; counts the manifest meanwhile."""
        assert self._bar is not None
        stop = threading.Event()
        counting = asyncio.ensure_future(asyncio.to_thread(count_lines, self.config.input_path, offset, stop))
        try:
            while True:
                if self._listed is None and counting.done():
                    self._listed = counting.result()
                self._bar.update(self._total(), self.in_flight)
                await asyncio.sleep(interval)
        finally:
            stop.set()
            if counting.done() and self._listed is None:
                self._listed = counting.result()
            self._bar.update(self._total(), self.in_flight)

    async def run(self) -> JobSummary:
        """Process the manifest; returns the summary (never raises for an item's failure)."""
        cfg = self.config
        if not cfg.input_path.is_file():
            raise FileNotFoundError(f"manifest {cfg.input_path} does not exist or is not a file")
        # keyed on the output's real path (and, inside, its inode): no symlink or hard link gets round it
        self._lock = OutputLock(sidecar_path(cfg.output_path.resolve(), ".lock"), cfg.output_path)
        with self._lock, job_gc():
            return await self._run()

    def _resume(self) -> set[str]:
        """Open the output and find where the manifest resumes; the keys already done."""
        cfg = self.config
        started = time.monotonic()
        self._output = OutputFile(cfg.output_path, lambda r: output_key(r, cfg.added_fields))
        scan = self._output.open(cfg.drop)
        if self._lock is not None:
            self._lock.hold_output()  # a rewritten output (``drop``) is a new inode: the lock moves to it
        self.summary.torn_bytes = scan.torn_bytes
        self.summary.bad_output_lines = len(scan.bad_lines)
        if scan.torn_bytes:
            self.say(
                f"repaired {cfg.output_path}: removed a torn last line ({scan.torn_bytes} bytes) "
                "left by an interrupted run"
            )
            log.warning("output repaired", output=str(cfg.output_path), torn_bytes=scan.torn_bytes)
        for number in scan.bad_lines:
            self.say(f"warning: {cfg.output_path} line {number} is not a readable record; its item will be redone")
        if scan.duplicate_lines:
            self.say(
                f"warning: {cfg.output_path} holds {len(scan.duplicate_lines)} duplicate record(s), "
                f"lines {scan.duplicate_lines[:10]}"
            )
        if scan.index == "rebuilt":
            self.say(f"rebuilt the finished-keys index of {cfg.output_path} ({len(scan.done)} records)")
        self.checkpoint = Checkpoint(sidecar_path(cfg.output_path, ".checkpoint.json"), cfg.input_path)
        if scan.index == "used":  # the output is the one the checkpoint was written against
            self.summary.skipped = self.checkpoint.load().skipped
        self.summary.resume_seconds = time.monotonic() - started
        return scan.done

    async def _run(self) -> JobSummary:
        cfg = self.config
        started = time.monotonic()
        completed = False
        previous: dict[str, dict[str, Any]] = {}
        ticker: asyncio.Task[None] | None = None
        dispatchers: list[asyncio.Task[None]] = []
        if cfg.display is not None:  # before the executor starts: forked workers write above the bar too
            self._bar = cfg.display(self.summary, self.stream, cfg.progress)
        if self._bar is not None:
            self._bar.start()
        try:
            # started before the output files are opened, so forked worker processes never hold them
            await self.executor.start()
            done = self._resume()
            assert cfg.errors_path is not None
            previous = load_errors(cfg.errors_path)
            earlier = {k: e for k, e in previous.items() if k not in done and not k.startswith("line:")}
            permanent = set() if cfg.retry_failed else {k for k, e in earlier.items() if not e.get("retryable")}
            self.summary.previously_failed = len(earlier) - len(permanent)
            if self.summary.previously_failed:
                self.say(f"retrying {self.summary.previously_failed} {cfg.unit} that failed in an earlier run")
            if permanent:
                self.say(
                    f"skipping {len(permanent)} {cfg.unit} that failed permanently in an earlier run (listed in "
                    f"{cfg.errors_path}); --retry-failed tries them again"
                )
            self._error_writer = JsonlAppender(cfg.errors_path)
            queue: asyncio.Queue[Item | None] = asyncio.Queue(maxsize=cfg.workers * 2)
            if self._bar is not None:
                assert self.checkpoint is not None
                self._skipped_before = self.summary.skipped
                ticker = asyncio.create_task(self._show_progress(cfg.progress_interval, self.checkpoint.start.offset))
            dispatchers = [asyncio.create_task(self._dispatch(queue)) for _ in range(cfg.workers)]
            feeder = asyncio.create_task(self._feed(queue, done, len(dispatchers), {k: previous[k] for k in permanent}))
            dispatchers.append(feeder)
            await _all_or_first_error(dispatchers)
            completed = True
        finally:
            for task in dispatchers:
                task.cancel()
            await asyncio.gather(*dispatchers, return_exceptions=True)
            await self.executor.close()
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            if self._output is not None:
                self._output.close()
            if self.checkpoint is not None:
                self.checkpoint.save()
            if self._error_writer is not None:
                self._error_writer.close()
                try:
                    self._finish_errors(previous, completed)
                except DiskFullError as exc:  # the errors file is rebuilt by the next run from its failures
                    self.say(f"warning: {exc}")
            self.summary.interrupted = not completed
            self.summary.seconds = time.monotonic() - started
            self.summary.cost_usd = estimate_cost(self.summary.usage, cfg.price_table)
            if cfg.price_table:
                self.summary.unpriced_models = sorted(m for m in self.summary.usage.models if m not in cfg.price_table)
            if self._bar is not None:
                self._bar.stop()
                self._bar = None
            self.stream.write(self.summary.render() + "\n")
            self.stream.flush()
        return self.summary

    async def _feed(
        self,
        queue: asyncio.Queue[Item | None],
        done: set[str],
        n: int,
        permanent: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        cfg = self.config
        permanent = permanent or {}
        checkpoint = self.checkpoint
        assert checkpoint is not None
        seen: dict[str, int] = {}
        queued = 0
        start = checkpoint.start
        for entry in read_manifest(cfg.input_path, cfg.check, done, start.offset, start.line):
            if cfg.limit is not None and queued >= cfg.limit:
                self.say(f"--limit {cfg.limit}: {queued} {cfg.unit} taken; run the same command again to go on")
                break
            if isinstance(entry, Invalid):
                checkpoint.give_up(entry.line)
                self._invalid(entry)
                continue
            if isinstance(entry, Done):  # not remembered in ``seen``: 10M done keys would double the memory
                checkpoint.read(entry.line, entry.end, settled=True)
                self.summary.skipped += 1
                continue
            if entry.key in seen:
                checkpoint.read(entry.line, entry.end, settled=True)
                self.summary.duplicates += 1
                self.say(
                    f"duplicate: line {entry.line} repeats key {entry.key} of line {seen[entry.key]}; processed once"
                )
                continue
            seen[entry.key] = entry.line
            if entry.key in permanent:  # still failed, still listed; not settled, so --retry-failed finds it
                checkpoint.read(entry.line, entry.end, settled=False)
                checkpoint.give_up(entry.line)
                self.errors[entry.key] = permanent[entry.key]
                self.summary.failed_before += 1
                continue
            checkpoint.read(entry.line, entry.end, settled=False)
            await queue.put(entry)
            self.executor.upcoming(entry)
            queued += 1
        for _ in range(n):
            await queue.put(None)

    def _invalid(self, entry: Invalid) -> None:
        self.summary.invalid += 1
        message = f"{self.config.input_path} line {entry.line}: {entry.error}"
        self.say(f"invalid: {message}")
        log.info("invalid manifest line", line=entry.line, error=entry.error)  # said above: once on the terminal
        key = f"line:{entry.line}"
        self.errors[key] = {
            "key": key,
            "line": entry.line,
            "source": None,
            "error": message,
            "error_type": "InvalidRecord",
            "retryable": False,
            "attempts": 0,
            "time": now(),
        }

    def _finish_errors(self, previous: dict[str, dict[str, Any]], completed: bool) -> None:
        assert self.config.errors_path is not None
        if completed:
            entries = list(self.errors.values())
        else:  # keep earlier failures not resolved by this partial run
            merged = {k: v for k, v in previous.items() if k not in self.succeeded}
            merged.update(self.errors)
            entries = list(merged.values())
        entries.sort(key=lambda e: (e.get("line") or 0, e["key"]))
        write_errors(self.config.errors_path, entries)

    async def _dispatch(self, queue: asyncio.Queue[Item | None]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            self.in_flight += 1
            try:
                outcome = await self.executor.submit(item)
            finally:
                self.in_flight -= 1
            if outcome.usage is not None:
                self.summary.usage = self.summary.usage.merge(outcome.usage)
            if outcome.record is None:
                await self._fail(item, outcome)
            else:
                await self._settle(item, outcome)

    async def _settle(self, item: Item, outcome: Outcome) -> None:
        assert self._output is not None and outcome.record is not None
        await self._output.append(outcome.record, item.key)
        if self.checkpoint is not None:
            self.checkpoint.settle(item.line)
        self.summary.done += 1
        self.succeeded.add(item.key)
        self.errors.pop(item.key, None)
        if self.on_done is not None:
            self.on_done(item, outcome.record)
        log.info(
            f"{self.config.unit.removesuffix('s')} done",
            clip=item.label,
            key=item.key,
            seconds=round(outcome.seconds, 3),
            attempts=outcome.attempts,
            llm_calls=outcome.usage.llm_calls if outcome.usage else 0,
            tokens=outcome.usage.total_tokens if outcome.usage else 0,
        )

    async def _fail(self, item: Item, outcome: Outcome) -> None:
        raw = outcome.error
        where = f"{item.label} ({item.source})" if item.source else item.label
        message = raw if item.source and item.source in raw else f"{where}: {raw}"
        entry: dict[str, Any] = {
            "key": item.key,
            "line": item.line,
            "source": item.source or None,
            "error": message,
            "error_type": outcome.error_type,
            "retryable": outcome.retryable,
            "attempts": outcome.attempts,
            "time": now(),
        }
        for name in ("id", "uuid"):
            if name in item.record:
                entry[name] = item.record[name]
        self.errors[item.key] = entry
        if self.checkpoint is not None:
            self.checkpoint.give_up(item.line)
        self.summary.failed += 1
        self.say(f"failed: line {item.line} {where}: {outcome.error_type}: {raw}")
        # the terminal has its line above; the JSON log (INFO and up) and the errors file have the details
        log.info(
            f"{self.config.unit.removesuffix('s')} failed",
            clip=item.label,
            key=item.key,
            error_type=outcome.error_type,
            error=message,
            attempts=outcome.attempts,
        )
        assert self._error_writer is not None
        await self._error_writer.append(entry)


async def _all_or_first_error(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for every task; the first to raise (a full disk under the output) ends the wait and is raised.

    Without this, a dispatcher that died left the feeder waiting forever on a queue nobody empties.
    """
    finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in finished:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def run_job(config: JobConfig, executor: Executor, stream: TextIO | None = None) -> JobSummary:
    """Run a job; see the module docstring."""
    return await Job(config, executor, stream).run()
