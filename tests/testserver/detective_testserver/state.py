"""What the server knows while it runs: its settings, its seeded random generator and its counters.

The handlers and middleware run on the server's event loop; the counters are read (and reset) from other
threads, hence the lock.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from detective_testserver.config import Faults, Quirks
from detective_testserver.latency import Latency, draw
from detective_testserver.scripted import Responder, ScriptedDetective

AIM_EARLY = 0.0015


@dataclass
class ServerStats:
    """What the server saw: requests per kind, faults per kind, latency of the reply path."""

    requests: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    #: Bytes of the prompts (the ``messages`` and ``tools`` JSON) per kind of request.
    prompt_bytes: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    ok: int = 0
    handler_seconds: float = 0.0

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "requests": self.requests,
            "by_kind": dict(self.by_kind),
            "prompt_bytes": dict(self.prompt_bytes),
            "faults": dict(self.faults),
            "ok": self.ok,
            "handler_seconds": round(self.handler_seconds, 4),
        }


class ServerState:
    """The settings every request reads when it arrives (change them between requests at will) and the
    bookkeeping every request writes."""

    def __init__(
        self,
        *,
        latency: Latency = 0.0,
        faults: Faults | None = None,
        seed: int = 0,
        responder: Responder | None = None,
        model: str = "test-model",
        quirks: Quirks | None = None,
    ) -> None:
        self.latency = latency
        self.faults = faults or Faults()
        self.quirks = quirks or Quirks()
        self.responder: Responder = responder or ScriptedDetective()
        self.model = model
        self.stats = ServerStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._ids = 0
        self._late = 0.0

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self.stats = ServerStats()

    def count(self, request: web.Request, kind: str, prompt_bytes: int | None = None) -> None:
        """Count ``request`` as one of ``kind`` (and its prompt's bytes)."""
        request[KIND] = kind
        with self._lock:
            self.stats.requests += 1
            self.stats.by_kind[kind] += 1
            if prompt_bytes is not None:
                self.stats.prompt_bytes[kind] += prompt_bytes

    def draw(self) -> tuple[str | None, float]:
        """The fault (or ``None``) and the reply time of one request, from the seeded generator."""
        with self._lock:
            fault = None
            if self.faults.rate and self._rng.random() < self.faults.rate:
                fault = self._rng.choices(self.faults.kinds, weights=self.faults.weights)[0]
                self.stats.faults[fault] += 1
            return fault, draw(self.latency, self._rng)

    async def hold(self, request: web.Request, delay: float) -> None:
        """Wait until ``delay`` seconds after ``request`` arrived: the server's own work is part of the delay."""
        if delay:
            target = request[ARRIVED] + delay
            await asyncio.sleep(max(0.0, target - time.perf_counter() - self._late))
            if AIM_EARLY:
                self._late = min(AIM_EARLY, max(0.0, self._late + 0.1 * (time.perf_counter() - target)))

    def done(self, started: float, ok: bool) -> None:
        """Record a finished reply that took since ``started``."""
        with self._lock:
            self.stats.handler_seconds += time.perf_counter() - started
            self.stats.ok += ok

    def next_id(self) -> int:
        """A fresh completion number."""
        with self._lock:
            self._ids += 1
            return self._ids


STATE = web.AppKey("state", ServerState)
# What the middleware and the handler pass on: when a request arrived, its parsed body and its counted kind; the
# completion a reply carries (serialised last, once) and the fault drawn for it.
ARRIVED = web.RequestKey("arrived", float)
BODY = web.RequestKey("body", dict)
KIND = web.RequestKey("kind", str)
COMPLETION = web.ResponseKey("completion", dict)
FAULT = web.ResponseKey("fault", str)
#: Set when a reply's body was not sent whole (truncated, or the client left a trickle).
CUT = web.ResponseKey("cut", bool)
