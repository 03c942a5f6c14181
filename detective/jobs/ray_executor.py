"""The ``ray`` executor: a job's work on Ray Core async actors, on one machine or a cluster.

- Each **actor** builds its works once (``make_work()``: for a caption job, its Detectives, which open the
  SQLite cache from its path inside the actor) and runs many items concurrently on its own event loop.
- The **driver** (the process running the job) hands items to the actor with the fewest in flight and stays the
  only writer of the output, so exactly-once output and resume work as on one machine.
- An actor that dies fails only its items in flight, as retryable errors (the next run retries them), and is
  restarted by Ray (``max_restarts=-1``); Ray never re-runs an item on its own (``max_task_retries=0``).
- ``address`` (or ``RAY_ADDRESS``) joins an existing cluster; without one, a Ray is started on this machine,
  bound to 127.0.0.1, without dashboard and without usage statistics, and stopped at the end; a reaper process
  (:mod:`.ray_reaper`) stops what is left of it within seconds of the driver's end, even after ``kill -9``.
- ``actor_options`` are Ray's resource options per actor, e.g. ``{"num_cpus": 4}`` for CPU-heavy offline
  observers, ``{"num_cpus": 0.25}`` for API-bound clips.

Media paths must be URLs or on a filesystem every node sees (see docs/scale.md). Ray ObjectRefs are awaited in
the driver's event loop, so the driver spends well under a millisecond per item.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from typing import Any

import structlog

from detective.jobs.attempt import Outcome, WorkFactory, lost
from detective.jobs.manifest import Item
from detective.jobs.pool import WorkPool

log = structlog.get_logger("detective.jobs")

#: Seconds the driver waits for an actor to come up (build its works) before the run fails.
ACTOR_START_TIMEOUT = 300.0
#: Seconds joining the Ray cluster at ``--ray-address`` may take before the run fails naming the address: nothing
#: listening there is found at once (connection refused), an address that drops packets within this time.
RAY_CONNECT_TIMEOUT = 15.0


#: Seconds :meth:`RayExecutor.close` gives the actors to cancel their items (and remove partial downloads).
STOP_TIMEOUT = 8.0


@contextlib.contextmanager
def _keeping_sigterm() -> Any:
    """Put back this process's SIGTERM handler after ``ray.init``, which installs its own crash handler over it
    (it printed a stack trace and exited 15, or aborted, instead of stopping the run as Ctrl-C does)."""
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


class RayUnavailable(RuntimeError):
    """The Ray cluster asked for cannot be joined: the message names its address and what to do."""


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a Ray address (``host:port``, ``ray://host:port``, ``[::1]:6379``); ``None`` for
    ``auto``, ``local`` and anything Ray itself must interpret."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (``127.0.0.0/8``, ``::1``)."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_reachable(address: str, timeout: float = RAY_CONNECT_TIMEOUT) -> None:
    """Fail at once, naming ``address``, when no Ray cluster listens there (Ray itself waits for minutes).

    :raises RayUnavailable: nothing accepts a connection at the address within ``timeout`` seconds.
    """
    import socket

    target = _host_port(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout):
            pass
    except OSError as exc:
        why = f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise RayUnavailable(
            f"no Ray cluster at {address} ({why.lower()}); start one there (`ray start --head "
            f"--port {target[1]}`) or leave out --ray-address to start a Ray on this machine"
        ) from None


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
    """Start a Ray on this machine bound to loopback only: no dashboard, no usage statistics, and a reaper that
    stops all of it within seconds of this process ending, however it ends; stop it with :func:`stop_local_ray`."""
    loopback_only()
    ray = _ray()
    ray.init(
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        num_cpus=num_cpus,
        log_to_driver=False,
        configure_logging=False,
    )
    node = getattr(ray._private.worker, "_global_node", None)  # the local node's processes (Ray's own handle)
    if node is not None:
        _start_reaper(node.get_session_dir_path())
    else:  # pragma: no cover - depends on Ray's internals (pinned)
        log.warning("ray reaper not started: Ray's session directory is unknown")


def stop_local_ray() -> None:
    """Shut down the Ray :func:`init_local_ray` started and let its reaper kill what outlives the shutdown."""
    ray = _ray()
    try:
        ray.shutdown()
    finally:
        _release_reaper()


#: The running reaper of the Ray this process started, and the write end of its pipe (see :mod:`.ray_reaper`).
_reaper: tuple[subprocess.Popen[bytes], int] | None = None


def _start_reaper(session_dir: str) -> None:
    """Start the reaper of the Ray session at ``session_dir`` (in a session of its own); this process holds the
    only write end of its pipe (not inherited by anything it starts), so the pipe closes when this process ends.

    Ray's agents otherwise outlive a driver killed with ``kill -9`` by about a minute (see :mod:`.ray_reaper`)."""
    from detective.jobs import ray_reaper

    global _reaper
    _release_reaper()
    read, write = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", ray_reaper.__file__, session_dir, str(read), str(os.getpid())],
            pass_fds=(read,),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # else a caller reading this process's stderr would wait for the reaper too
        )
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    _reaper = (process, write)


def _release_reaper() -> None:
    """Close this process's end of the reaper's pipe: it kills what is left of its Ray session and exits."""
    global _reaper
    if _reaper is not None:
        _, write = _reaper
        _reaper = None
        with contextlib.suppress(OSError):
            os.close(write)


def join_ray(address: str) -> None:
    """Join the Ray cluster at ``address``, failing within :data:`RAY_CONNECT_TIMEOUT` when it is not there.

    A loopback address stays loopback: Ray would otherwise replace ``127.0.0.1`` by this machine's routable address
    and contact that instead; with its cluster mode off (:func:`loopback_only`) it connects where it was told.

    :raises RayUnavailable: nothing listens at ``address``, or Ray cannot join it; the message names it.
    """
    ray = _ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    check_reachable(address)
    target = _host_port(address)
    extra: dict[str, Any] = {}
    if target is not None and is_loopback(target[0]):
        loopback_only()
        extra["_node_ip_address"] = "127.0.0.1"
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False, **extra)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at {address}: {type(exc).__name__}: {exc}") from exc


class JobActor:
    """Runs items on its event loop (an async Ray actor), on the works of one :class:`~detective.jobs.pool.WorkPool`."""

    def __init__(self, make_work: WorkFactory, retries: int, share: float) -> None:
        from detective.llm import client as llm

        llm.set_process_share(share)
        self.pool = WorkPool(make_work, retries)
        self.pool.build()  # now: a factory that cannot build fails the actor's start
        self.running: set[asyncio.Task[Any]] = set()

    async def ready(self) -> dict[str, Any]:
        """Where this actor runs (pid and Ray node id), once its first work is built."""
        ray = _ray()
        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}

    async def run(self, item: Item) -> Outcome:
        """The item's outcome, with the retry policy."""
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        try:
            return await self.pool.run(item)
        finally:
            self.running.discard(task)  # type: ignore[arg-type]

    async def stop(self, timeout: float = 5.0) -> int:
        """Cancel the items running here and wait (at most ``timeout`` s) for their clean-up, such as removing a
        partial download; the number cancelled. Called before the actor is killed, which would leave them."""
        tasks = [t for t in self.running if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        return len(tasks)


class _Actor:
    """The driver's view of one actor: its handle, items in flight, and whether it is up."""

    def __init__(self, index: int, handle: Any) -> None:
        self.index = index
        self.handle = handle
        self.pending = 0
        self.epoch = 0  # bumped when the actor is found lost; items sent in an earlier epoch were in flight
        self.up = True


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
        self._actors: list[_Actor] = []
        self._came_up: asyncio.Event | None = None
        self._revivals: set[asyncio.Task[None]] = set()
        self._started_ray = False
        self._started_local = False
        #: where each actor came up (pid, node), for logs and tests
        self.placements: list[dict[str, Any]] = []

    async def start(self) -> None:
        """Join or start Ray, start the actors and wait until each has built its first work."""
        ray = _ray()
        if not ray.is_initialized():
            address = self.address or os.environ.get("RAY_ADDRESS")
            with _keeping_sigterm():
                if address:
                    join_ray(address)
                else:
                    init_local_ray()
            self._started_ray = True
            self._started_local = not address
        remote = ray.remote(JobActor).options(
            max_restarts=-1,
            max_task_retries=0,
            max_concurrency=self.max_concurrency,
            **{"num_cpus": 1, **self.actor_options},
        )
        share = 1.0 / self.actors
        handles = [remote.remote(self.make_work, self.retries, share) for _ in range(self.actors)]
        self._actors = [_Actor(i, h) for i, h in enumerate(handles)]
        self._came_up = asyncio.Event()
        self.placements = await asyncio.wait_for(
            asyncio.gather(*(h.ready.remote() for h in handles)), timeout=ACTOR_START_TIMEOUT
        )
        log.info("ray actors ready", actors=self.placements)

    async def _pick(self) -> _Actor | None:
        """The live actor with the fewest items in flight, waiting (bounded) while every actor restarts."""
        assert self._came_up is not None
        deadline = asyncio.get_running_loop().time() + ACTOR_START_TIMEOUT
        while True:
            up = [a for a in self._actors if a.up]
            if up:
                return min(up, key=lambda a: a.pending)
            if not self._revivals or asyncio.get_running_loop().time() > deadline:
                return None
            self._came_up.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._came_up.wait(), timeout=1.0)

    def upcoming(self, item: Item) -> None:
        """Ignored: which actor takes it is known only when it is submitted."""

    async def submit(self, item: Item) -> Outcome:
        """Hand ``item`` to the least busy live actor and await its outcome; a lost actor makes it retryable."""
        ray = _ray()
        actor = await self._pick()
        if actor is None:
            return lost(item, "every Ray actor is gone (none came back within the restart deadline)")
        epoch = actor.epoch
        actor.pending += 1
        try:
            return await actor.handle.run.remote(item)
        except ray.exceptions.RayActorError as exc:
            if actor.epoch == epoch:
                self._lost(actor, exc)
            return lost(item, f"Ray actor {actor.index} was lost: {type(exc).__name__}: {str(exc)[:300]}")
        except ray.exceptions.RayError as exc:
            return lost(item, f"Ray failed the item: {type(exc).__name__}: {str(exc)[:300]}", "RayError")
        finally:
            actor.pending -= 1

    def _lost(self, actor: _Actor, exc: BaseException) -> None:
        """Take ``actor`` out of rotation until Ray has restarted it (its items in flight are failed)."""
        log.warning("ray actor lost", actor=actor.index, error=str(exc)[:300])
        actor.epoch += 1
        actor.up = False
        task = asyncio.create_task(self._revive(actor))
        self._revivals.add(task)
        task.add_done_callback(self._revivals.discard)

    async def _revive(self, actor: _Actor) -> None:
        ray = _ray()
        deadline = asyncio.get_running_loop().time() + ACTOR_START_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            try:
                placement = await actor.handle.ready.remote()
            except ray.exceptions.RayActorError:
                await asyncio.sleep(0.2)
                continue
            log.info("ray actor restarted", actor=actor.index, placement=placement)
            actor.up = True
            assert self._came_up is not None
            self._came_up.set()
            return
        log.error("ray actor did not come back", actor=actor.index, seconds=ACTOR_START_TIMEOUT)

    async def close(self) -> None:
        """Kill the actors (items in flight are abandoned) and stop the Ray this executor started."""
        ray = _ray()
        for task in list(self._revivals):
            task.cancel()
        await asyncio.gather(*self._revivals, return_exceptions=True)
        stops = [actor.handle.stop.remote() for actor in self._actors if actor.up]
        if stops:  # items in flight clean up after themselves (partial downloads) before the actors are killed
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*stops, return_exceptions=True), timeout=STOP_TIMEOUT)
        for actor in self._actors:
            ray.kill(actor.handle, no_restart=True)
        self._actors = []
        if self._started_ray:
            if self._started_local:
                stop_local_ray()
            else:
                ray.shutdown()
            self._started_ray = False
