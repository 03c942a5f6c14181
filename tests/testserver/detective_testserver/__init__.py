"""A loopback OpenAI-compatible chat server for integration, fault and benchmark runs (test and benchmark
support: not part of the ``omni-detective`` runtime).

An aiohttp application on ``127.0.0.1`` (a free port) serving ``POST /v1/chat/completions`` and
``GET /v1/models`` from an event loop in a daemon thread. It can hold every reply for a fixed, uniform or
log-normal time and inject faults (429 with ``Retry-After``, 500, replies slower than the client's timeout,
malformed tool-call arguments, bodies cut short, bodies that trickle) with a seeded random generator, so a failing
run can be replayed. :class:`Quirks` make it behave like a real small model's endpoint: ``tools`` silently
ignored, 500 for content parts it cannot take, 400 ``context_length_exceeded`` past its context, generation that
runs on until ``max_tokens``. What it answers is decided by a *responder*; the default :class:`ScriptedDetective`
plays every role of a Detective run::

    from detective_testserver import ChatServer, Faults, LogNormal

    with ChatServer(latency=LogNormal(median=1.5, p95=6.0), faults=Faults(rate=0.3), seed=1) as server:
        settings = Settings.from_env(api_key="test", base_url=server.url)
        ...
    print(server.stats.by_kind)   # {"planner": 40, "observer": 80, "captioner": 20}
"""

from detective_testserver.config import FAULT_KINDS, Faults, Quirks
from detective_testserver.latency import Latency, LogNormal
from detective_testserver.process import ServerStartError, free_port, server_process
from detective_testserver.scripted import Responder, ScriptedDetective, request_kind
from detective_testserver.server import AppServer, ChatServer, make_app
from detective_testserver.state import ServerStats

__all__ = [
    "FAULT_KINDS",
    "AppServer",
    "ChatServer",
    "Faults",
    "Latency",
    "LogNormal",
    "Quirks",
    "Responder",
    "ScriptedDetective",
    "ServerStartError",
    "ServerStats",
    "free_port",
    "make_app",
    "request_kind",
    "server_process",
]
