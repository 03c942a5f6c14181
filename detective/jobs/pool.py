"""The works of one worker, reused: what every executor runs items with, wherever it runs them.

A worker is this process (``local``), a forked worker process (``processes``) or a Ray actor (``ray``); each holds
one :class:`WorkPool`. A work is costly to build (for a caption job, a Detective with its tool box, whose tools set
up their models once per process), so the pool builds one only when every built one is busy, that is one per item
in flight at the busiest moment, and hands it to the next item when its item is done. The executors differ in
where the pool lives and how items reach it, never in how works are built and reused.
"""

from __future__ import annotations

from detective.jobs.attempt import Outcome, Work, WorkFactory, attempt
from detective.jobs.manifest import Item


class WorkPool:
    """Works built by ``make_work`` on demand and reused; :meth:`run` runs one item with the retry policy."""

    def __init__(self, make_work: WorkFactory, retries: int) -> None:
        self.make_work = make_work
        self.retries = retries
        self._idle: list[Work] = []
        #: Works built so far (idle or busy).
        self.built = 0

    def build(self) -> None:
        """Build one work now (a factory that cannot build fails here, e.g. at a Ray actor's start)."""
        self._idle.append(self._new())

    def _new(self) -> Work:
        work = self.make_work()
        self.built += 1
        return work

    async def run(self, item: Item) -> Outcome:
        """The outcome of ``item`` (:func:`~detective.jobs.attempt.attempt`), on an idle work or a new one."""
        work = self._idle.pop() if self._idle else self._new()
        try:
            return await attempt(work, item, self.retries)
        finally:
            self._idle.append(work)

    def clear(self) -> None:
        """Drop the idle works."""
        self._idle.clear()
