"""The ``ray`` executor: a job's work on Ray Core async actors, on one machine or a cluster.

- Each **actor** builds its works once (``make_work()``: for a caption job, its Detectives, which open the
  SQLite cache from its path inside the actor) and runs many items concurrently on its own event loop.
- The **driver** (the process running the job) hands items to the actor with the fewest in flight and stays the
  only writer of the output, so exactly-once output and resume work as on one machine.
- An actor that dies fails only its items in flight, as retryable errors (the next run retries them), and is
  restarted by Ray (``max_restarts=-1``); Ray never re-runs an item on its own (``max_task_retries=0``).
- ``address`` (or ``RAY_ADDRESS``) joins an existing cluster; without one, a Ray is started on this machine,
  bound to 127.0.0.1, without dashboard and without usage statistics, and stopped at the end.
- ``actor_options`` are Ray's resource options per actor, e.g. ``{"num_cpus": 4}`` for CPU-heavy offline
  observers, ``{"num_cpus": 0.25}`` for API-bound clips.

Media paths must be URLs or on a filesystem every node sees (see docs/scale.md). Ray ObjectRefs are awaited in
the driver's event loop, so the driver spends well under a millisecond per item.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import structlog

from detective.jobs.attempt import Outcome, Work, WorkFactory, attempt, lost
from detective.jobs.manifest import Item

log = structlog.get_logger("detective.jobs")

#: Seconds the driver waits for an actor to come up (build its works) before the run fails.
ACTOR_START_TIMEOUT = 300.0


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("the ray executor needs Ray: pip install 'omni-detective[ray]'") from exc
    return ray


def loopback_only() -> None:
    """Make the Ray started by this process use 127.0.0.1 as its node address, so it listens on loopback only.

    ``ray.init(_node_ip_address="127.0.0.1")`` alone is not enough: Ray replaces a loopback address by the
    machine's routable one unless its cluster mode is off (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, Ray's switch
    for single-machine use), read when Ray is imported and inherited by the processes it starts.
    """
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False  # Ray may have been imported before the variable was set


def init_local_ray(num_cpus: int | None = None) -> None:
    """Start a Ray on this machine bound to loopback only: no dashboard, no usage statistics."""
    loopback_only()
    ray = _ray()
    ray.init(
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        num_cpus=num_cpus,
        log_to_driver=False,
        configure_logging=False,
    )


class JobActor:
    """Runs items on its event loop (an async Ray actor); one work per concurrent item, reused."""

    def __init__(self, make_work: WorkFactory, retries: int, share: float) -> None:
        from detective import llm

        llm.set_process_share(share)
        self.make_work = make_work
        self.retries = retries
        self.idle: list[Work] = [make_work()]  # built now: a factory that cannot build fails the actor's start

    async def ready(self) -> dict[str, Any]:
        """Where this actor runs (pid and Ray node id), once its first work is built."""
        ray = _ray()
        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}

    async def run(self, item: Item) -> Outcome:
        """The item's outcome, with the retry policy."""
        work = self.idle.pop() if self.idle else self.make_work()
        try:
            return await attempt(work, item, self.retries)
        finally:
            self.idle.append(work)


class RayExecutor:
    """``actors`` Ray actors that run the work; :meth:`submit` returns an item's :class:`Outcome`."""

    def __init__(
        self,
        make_work: WorkFactory,
        retries: int,
        *,
        actors: int = 2,
        address: str | None = None,
        actor_options: dict[str, Any] | None = None,
        max_concurrency: int = 1000,
    ) -> None:
        self.make_work = make_work
        self.retries = retries
        self.actors = actors
        self.address = address
        self.actor_options = dict(actor_options or {})
        self.max_concurrency = max_concurrency
        self._handles: list[Any] = []
        self._pending: list[int] = []
        self._started_ray = False
        #: where each actor came up (pid, node), for logs and tests
        self.placements: list[dict[str, Any]] = []

    async def start(self) -> None:
        """Join or start Ray, start the actors and wait until each has built its first work."""
        ray = _ray()
        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS")
            if address:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            else:
                init_local_ray()
            self._started_ray = True
        remote = ray.remote(JobActor).options(
            max_restarts=-1,
            max_task_retries=0,
            max_concurrency=self.max_concurrency,
            **{"num_cpus": 1, **self.actor_options},
        )
        share = 1.0 / self.actors
        self._handles = [remote.remote(self.make_work, self.retries, share) for _ in range(self.actors)]
        self._pending = [0] * self.actors
        self.placements = await asyncio.wait_for(
            asyncio.gather(*(h.ready.remote() for h in self._handles)), timeout=ACTOR_START_TIMEOUT
        )
        log.info("ray actors ready", actors=self.placements)

    async def submit(self, item: Item) -> Outcome:
        """Hand ``item`` to the least busy actor and await its outcome; a lost actor makes it retryable."""
        ray = _ray()
        index = min(range(len(self._handles)), key=self._pending.__getitem__)
        self._pending[index] += 1
        try:
            return await self._handles[index].run.remote(item)
        except ray.exceptions.RayActorError as exc:
            log.warning("ray actor lost", actor=index, clip=item.label, error=str(exc)[:300])
            return lost(item, f"Ray actor {index} was lost: {type(exc).__name__}: {str(exc)[:300]}")
        except ray.exceptions.RayError as exc:
            return lost(item, f"Ray failed the item: {type(exc).__name__}: {str(exc)[:300]}", "RayError")
        finally:
            self._pending[index] -= 1

    async def close(self) -> None:
        """Kill the actors (items in flight are abandoned) and stop the Ray this executor started."""
        ray = _ray()
        for handle in self._handles:
            ray.kill(handle, no_restart=True)
        self._handles = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
