"""Run services: what a node, tool or captioner needs during one run, without globals.

A :class:`RunServices` is created per clip and made current with :func:`use_services`; tools reach it through
:func:`current_services` (a context variable, so concurrent clips never share it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from detective.llm.settings import Settings
from detective.models import Usage

if TYPE_CHECKING:
    from detective.agent.config import DetectiveConfig, Toolbox
    from detective.llm.capabilities import CapabilityStore
    from detective.llm.client import EndpointLimits, LLMClient


class Cache(Protocol):
    """A persistent key-value store for observer results and LLM replies (see :mod:`detective.jobs.cache`)."""

    def get(self, namespace: str, key: str) -> Any | None:
        """The stored JSON value, or ``None``."""

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable value."""


@dataclass
class RunServices:
    """Per-run services: settings, the usage meter, an optional cache, limits, a label for logs, and the run's
    configuration and the objects resolved from it (``toolbox``, see :func:`detective.agent.config.resolve_toolbox`)."""

    settings: Settings = field(default_factory=Settings.from_env)
    usage: Usage = field(default_factory=Usage)
    cache: Cache | None = None
    limits: EndpointLimits | None = None  # shared across clips of a batch
    clip: str = ""
    config: DetectiveConfig | None = None  # the run's configuration
    toolbox: Toolbox | None = None  # tools, planner and captioner of the run
    started: float = field(default_factory=time.monotonic)
    warmups: list[asyncio.Task[None]] = field(default_factory=list, repr=False)  # tasks of Tool.prepare
    #: What each endpoint's model can do, shared by the clips of a run; a fresh store on this run's cache when
    #: none is given.
    capabilities: CapabilityStore | None = None
    _llms: dict[str, LLMClient] = field(default_factory=dict, repr=False)
    _local_slots: asyncio.Semaphore | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.capabilities is None:
            from detective.llm.capabilities import CapabilityStore

            self.capabilities = CapabilityStore(self.cache)
        meters = _meters.get()
        if meters is not None:
            meters.append(self.usage)

    def local_slots(self, size: int) -> asyncio.Semaphore:
        """The run's slots for local observers (``DetectiveConfig.max_concurrency``): they share this machine's
        cores, while remote-model observers wait on the network and are bounded by the endpoint limits."""
        if self._local_slots is None:
            self._local_slots = asyncio.Semaphore(size)
        return self._local_slots

    def llm(self, role: str) -> LLMClient:
        """The :class:`detective.llm.client.LLMClient` for ``role`` bound to this run's usage meter and cache."""
        client = self._llms.get(role)
        if client is None:
            from detective.llm.client import LLMClient

            client = self._llms[role] = LLMClient(self.settings.endpoint(role), services=self)
        return client


_meters: contextvars.ContextVar[list[Usage] | None] = contextvars.ContextVar("omni_detective_meters", default=None)


@contextlib.contextmanager
def collect_usage() -> Iterator[list[Usage]]:
    """Collect the usage meter of every run started inside the block (and its tasks), finished or failed.

    The job engine wraps each attempt at a clip in it, so the calls of an attempt that failed count too.
    """
    meters: list[Usage] = []
    token = _meters.set(meters)
    try:
        yield meters
    finally:
        _meters.reset(token)


def report_usage(usage: Usage) -> None:
    """Count ``usage`` in the enclosing :func:`collect_usage` unless it is already there (a run's own meter)."""
    meters = _meters.get()
    if meters is not None and not any(m is usage for m in meters):
        meters.append(usage)


_current: contextvars.ContextVar[RunServices | None] = contextvars.ContextVar("omni_detective_services", default=None)


def current_services() -> RunServices:
    """The services of the run in progress, or fresh defaults outside a run."""
    services = _current.get()
    if services is None:
        services = RunServices()
        _current.set(services)
    return services


@contextlib.contextmanager
def use_services(services: RunServices) -> Iterator[RunServices]:
    """Make ``services`` current for the enclosed block."""
    token = _current.set(services)
    try:
        yield services
    finally:
        _current.reset(token)
