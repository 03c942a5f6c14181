"""Where a job's work runs: the executor interface and the default, this process's event loop.

An executor is started once, given items with :meth:`Executor.submit` (at most the job's ``workers`` at a
time), and returns each item's :class:`~detective.jobs.attempt.Outcome`; it never writes output, the engine does.
Executors: ``local`` (here), ``processes`` (:mod:`detective.jobs.processes`) and ``ray``
(:mod:`detective.jobs.ray_executor`). Each of their workers runs items on one :class:`~detective.jobs.pool.WorkPool`.
"""

from __future__ import annotations

from typing import Protocol

from detective.jobs.attempt import Outcome, WorkFactory
from detective.jobs.manifest import Item
from detective.jobs.pool import WorkPool

#: The executor names ``omni-detective run --executor`` accepts.
EXECUTORS = ("local", "processes", "ray")


class Executor(Protocol):
    """Runs the work of items somewhere and returns their outcomes."""

    async def start(self) -> None:
        """Get ready (fork workers, start actors); called from the running event loop before any submit."""

    def upcoming(self, item: Item) -> None:
        """``item`` is queued and will be submitted: a hint to get its work ready (the local executor's work may
        open its media ahead); the others ignore it."""

    async def submit(self, item: Item) -> Outcome:
        """Run the work on ``item`` (with the retry policy) and return its outcome; never raises for the item."""

    async def close(self) -> None:
        """Stop everything started; items in flight are abandoned (the next run redoes them)."""


class LocalExecutor:
    """The work runs on this process's event loop, on the works of one :class:`~detective.jobs.pool.WorkPool`."""

    def __init__(self, make_work: WorkFactory, retries: int) -> None:
        self.make_work = make_work
        self.pool = WorkPool(make_work, retries)

    async def start(self) -> None:
        """Nothing to start: works are built on first use."""

    def upcoming(self, item: Item) -> None:
        """Passed to the work factory when it takes hints (an ``upcoming`` method)."""
        hint = getattr(self.make_work, "upcoming", None)
        if hint is not None:
            hint(item)

    async def submit(self, item: Item) -> Outcome:
        """Run the work here."""
        return await self.pool.run(item)

    async def close(self) -> None:
        """Drop the idle works, and close the work factory when it has a ``close`` (its work ahead stopped)."""
        self.pool.clear()
        close = getattr(self.make_work, "close", None)
        if close is not None:
            await close()
