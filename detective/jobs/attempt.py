"""One record's work with the retry policy: runs where the work runs (this process, a worker, a Ray actor)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from detective.jobs.manifest import Item
from detective.models import Usage
from detective.runtime import collect_usage

log = structlog.get_logger("detective.jobs")

#: The work of a job: the output record of one item; raises when the item fails.
Work = Callable[[Item], Awaitable[dict[str, Any]]]
#: Builds a :data:`Work` (and whatever it needs, such as a Detective) once per worker; picklable for Ray.
WorkFactory = Callable[[], Work]


@dataclass
class Outcome:
    """How one item ended: its output record, or the error of its last attempt. Picklable (crosses processes).

    ``usage`` is what every attempt spent, failed ones included; the record's own ``usage`` is its last run's.
    """

    key: str
    attempts: int
    seconds: float
    record: dict[str, Any] | None = None
    usage: Usage | None = None
    error: str = ""
    error_type: str = ""
    retryable: bool = False


def is_retryable(exc: BaseException) -> bool:
    """True for errors worth another attempt: transient LLM failures, timeouts, dropped connections."""
    from detective.media import MediaError

    if getattr(exc, "retryable", False):  # a MediaError says so when a remote store failed to serve the clip
        return True
    if isinstance(exc, MediaError):
        return False
    return isinstance(exc, TimeoutError | ConnectionError)


def lost(item: Item, why: str, error_type: str = "WorkerLost") -> Outcome:
    """The outcome of an item whose worker went away: retryable, the next run tries it again."""
    return Outcome(key=item.key, attempts=1, seconds=0.0, error=why, error_type=error_type, retryable=True)


async def attempt(work: Work, item: Item, retries: int) -> Outcome:
    """Run ``work`` on ``item``, again up to ``retries`` times after a retryable failure; never raises for it."""
    attempts = 0
    started = time.monotonic()
    spent = Usage()
    while True:
        attempts += 1
        try:
            with collect_usage() as meters:
                try:
                    record = await work(item)
                finally:
                    for meter in meters:
                        spent = spent.merge(meter)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            retry = is_retryable(exc)
            if retry and attempts <= retries:
                log.info("retry", clip=item.label, attempt=attempts, error=str(exc)[:300])
                continue
            return Outcome(
                key=item.key,
                attempts=attempts,
                seconds=time.monotonic() - started,
                usage=spent,
                error=str(exc) or type(exc).__name__,
                error_type=type(exc).__name__,
                # in the errors file "retryable" means the next run tries it again: also true of a failure that
                # another attempt now cannot mend but a later run can (NoEvidenceError: every observer failed)
                retryable=retry or bool(getattr(exc, "next_run_may_help", False)),
            )
        return Outcome(key=item.key, attempts=attempts, seconds=time.monotonic() - started, record=record, usage=spent)
