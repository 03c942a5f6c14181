"""The ``processes`` executor: the work of a job split over forked worker processes on this machine.

One Python process runs one event loop on one core. A batch at high concurrency spends about a millisecond and a
half of CPU per LLM call in the framework, and local observers (ASR, OCR, shot detection) far more, so one process
caps the throughput of a many-core machine. With ``processes=N``:

- the **parent** reads the manifest, skips what is done, hands items out, and is the only writer of the output
  and errors files, so every record is still written exactly once;
- **N workers**, forked from the parent, build their own works (a :class:`~detective.jobs.pool.WorkPool` of
  ``make_work()`` in the worker, so each has its own Detectives, whose tools set up their models there) and send
  back an :class:`~detective.jobs.attempt.Outcome` per item.

An item goes to the worker with the fewest items in flight. Per-endpoint limits
(:class:`~detective.llm.client.EndpointLimits`) stay totals: a worker takes ``1/N`` of every limit. A worker that dies
fails its items in flight with a retryable error (the next run retries them). Workers exit when the parent
closes their pipe, so a parent killed with ``kill -9`` leaves no worker behind. Workers ignore ``Ctrl-C``: the
parent handles it. Worker processes are forked, which needs a POSIX system (Linux, macOS).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

import structlog

from detective.jobs.attempt import Outcome, WorkFactory, lost
from detective.jobs.gc import job_gc
from detective.jobs.manifest import Item
from detective.jobs.pool import WorkPool

log = structlog.get_logger("detective.jobs")


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, index: int, process: Any, conn: Connection) -> None:
        self.index = index
        self.process = process
        self.conn = conn
        self.pending: dict[str, tuple[Item, asyncio.Future[Outcome]]] = {}
        self.alive = True


class ProcessExecutor:
    """``processes`` forked workers that run the work; :meth:`submit` returns an item's :class:`Outcome`."""

    def __init__(self, make_work: WorkFactory, retries: int, processes: int) -> None:
        if "fork" not in mp.get_all_start_methods():
            raise RuntimeError(f"processes={processes} needs the 'fork' start method, absent on {sys.platform}")
        self.make_work = make_work
        self.retries = retries
        self.processes = processes
        self.workers: list[_Worker] = []

    async def start(self) -> None:
        """Fork the workers and start listening for their outcomes."""
        loop = asyncio.get_running_loop()
        ctx = mp.get_context("fork")
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # a buffer copied into a child would be written twice
        for index in range(self.processes):
            parent_end, child_end = ctx.Pipe()
            inherited = [parent_end, *(w.conn for w in self.workers)]
            process = ctx.Process(
                target=_worker_main,
                args=(child_end, inherited, self.make_work, self.retries, self.processes),
                name=f"omni-detective-worker-{index}",
                daemon=True,
            )
            process.start()
            child_end.close()
            worker = _Worker(index, process, parent_end)
            loop.add_reader(parent_end.fileno(), self._on_readable, worker)
            self.workers.append(worker)

    def upcoming(self, item: Item) -> None:
        """Ignored: which worker takes it is known only when it is submitted."""

    async def submit(self, item: Item) -> Outcome:
        """Hand ``item`` to the least busy live worker and wait for its outcome."""
        live = [w for w in self.workers if w.alive]
        if not live:
            return lost(item, "every worker process has exited")
        worker = min(live, key=lambda w: len(w.pending))
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        worker.pending[item.key] = (item, future)
        try:
            worker.conn.send(item)
        except (BrokenPipeError, OSError) as exc:
            self._worker_gone(worker, f"cannot reach it ({exc})")
        return await future

    def _on_readable(self, worker: _Worker) -> None:
        try:
            while worker.conn.poll():
                outcome: Outcome = worker.conn.recv()
                entry = worker.pending.pop(outcome.key, None)
                if entry is not None and not entry[1].done():
                    entry[1].set_result(outcome)
        except (EOFError, OSError):
            worker.process.join(timeout=1.0)
            self._worker_gone(worker, f"it exited with code {worker.process.exitcode}")

    def _worker_gone(self, worker: _Worker, why: str) -> None:
        if not worker.alive:
            return
        self._detach(worker)
        if worker.pending:
            log.warning("worker process lost", worker=worker.index, clips=len(worker.pending), why=why)
        for item, future in worker.pending.values():
            if not future.done():
                future.set_result(lost(item, f"worker process {worker.index} was lost: {why}"))
        worker.pending.clear()

    @staticmethod
    def _detach(worker: _Worker) -> None:
        """Stop listening to ``worker`` and close our end of its pipe (which ends it)."""
        worker.alive = False
        asyncio.get_running_loop().remove_reader(worker.conn.fileno())
        worker.conn.close()

    async def close(self) -> None:
        """Stop the workers: closing their pipes ends them; any still running after 5 s is terminated."""
        for worker in self.workers:
            if worker.alive:
                self._detach(worker)
        for worker in self.workers:
            await asyncio.to_thread(worker.process.join, 5.0)
            if worker.process.is_alive():
                worker.process.terminate()
                await asyncio.to_thread(worker.process.join, 5.0)


# --- in the worker process --------------------------------------------------------------------------------


def _worker_main(conn: Connection, inherited: list[Connection], make_work: WorkFactory, retries: int, n: int) -> None:
    """Entry point of a worker: its own event loop, 1/n of every endpoint limit, items until the pipe closes."""
    from detective.llm import client as llm

    for other in inherited:  # the parent's ends of the pipes, copied by the fork: only the parent may hold them
        other.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.events._set_running_loop(None)  # forked from inside the parent's running loop
    llm.set_process_share(1.0 / n)
    try:
        with job_gc():
            asyncio.run(_serve(conn, make_work, retries))
    finally:
        conn.close()
        os._exit(0)  # skip the parent's atexit handlers and finalizers, inherited by the fork


async def _serve(conn: Connection, make_work: WorkFactory, retries: int) -> None:
    loop = asyncio.get_running_loop()
    closed = asyncio.Event()
    pool = WorkPool(make_work, retries)
    tasks: set[asyncio.Task[None]] = set()

    async def one(item: Item) -> None:
        try:
            outcome = await pool.run(item)
        except Exception as exc:  # attempt reports an item's failure; anything else is a bug, still reported
            outcome = Outcome(
                key=item.key, attempts=1, seconds=0.0, error=f"{type(exc).__name__}: {exc}", error_type="WorkerError"
            )
        try:
            conn.send(outcome)
        except (BrokenPipeError, OSError):
            closed.set()  # the parent is gone: nobody will write this item

    def readable() -> None:
        try:
            while conn.poll():
                item = conn.recv()
                task = loop.create_task(one(item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (EOFError, OSError):
            loop.remove_reader(conn.fileno())
            closed.set()

    loop.add_reader(conn.fileno(), readable)
    await closed.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
