"""A loopback OpenAI-compatible chat server for integration, fault and benchmark runs.

It listens on ``127.0.0.1`` on a free port, serves ``POST /v1/chat/completions`` from a thread pool, and can
delay every reply and inject faults (429 with ``Retry-After``, 500, replies slower than the client's timeout,
malformed tool-call arguments, bodies cut short) with a seeded random generator, so a failing run can be
replayed. What it answers is decided by a *responder*; the default :class:`ScriptedDetective` plays every role
of a Detective run::

    with ChatServer(latency=0.1, faults=Faults(rate=0.3), seed=1) as server:
        settings = Settings.from_env(api_key="test", base_url=server.url)
        ...
    print(server.stats.by_kind)   # {"planner": 40, "observer": 80, "captioner": 20}
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: A responder maps a request body to ``(kind, message)``: the kind is counted, the message is the assistant
#: message (``{"role": "assistant", "content": ..., "tool_calls": [...]}``) of the reply.
Responder = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]

FAULT_KINDS = ("429", "500", "timeout", "malformed", "truncated")


@dataclass
class Faults:
    """Fault injection: each request fails with probability ``rate``, the kind drawn from ``kinds``.

    - ``429``: status 429 with ``Retry-After: retry_after`` seconds.
    - ``500``: status 500 with an OpenAI-style error body.
    - ``timeout``: the reply is held for ``timeout_sleep`` seconds (set it above the client's timeout).
    - ``malformed``: a 200 reply whose tool-call arguments are not JSON (plain content is cut mid-sentence
      when the request offers no tools).
    - ``truncated``: the body is cut in half and the connection closed before ``Content-Length`` is reached.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    weights: tuple[float, ...] | None = None
    retry_after: float = 0.01
    timeout_sleep: float = 1.0

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate}")


@dataclass
class ServerStats:
    """What the server saw: requests per kind, faults per kind, latency of the reply path."""

    requests: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    ok: int = 0
    handler_seconds: float = 0.0

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "requests": self.requests,
            "by_kind": dict(self.by_kind),
            "faults": dict(self.faults),
            "ok": self.ok,
            "handler_seconds": round(self.handler_seconds, 4),
        }


# --- the default responder -------------------------------------------------------------------------------


def request_kind(body: dict[str, Any]) -> str:
    """``planner`` when the request offers tools, ``observer`` when it carries audio or images, else ``captioner``."""
    if body.get("tools"):
        return "planner"
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") in {"input_audio", "image_url", "video_url"}:
                    return "observer"
    return "captioner"


def _text_of(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(parts)


def _stamp(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:06.3f}"


class ScriptedDetective:
    """Answers every role of a Detective run, deterministically (the same request gets the same answer).

    - planner (request with ``tools``): for the first ``rounds`` rounds (counted as the assistant turns with
      tool calls already in the conversation) it calls up to ``calls_per_round`` of the offered functions other
      than ``finish`` (all of them by default), with arguments built from each function's schema; then it calls
      ``finish`` (or answers in text if no ``finish`` is offered).
    - observer (audio or image parts): a short description naming the question.
    - captioner (anything else): a structured caption in the canonical Markdown format, spanning the clip's
      duration when the prompt states one.
    """

    def __init__(self, rounds: int = 2, calls_per_round: int | None = None) -> None:
        self.rounds = rounds
        self.calls_per_round = calls_per_round

    def __call__(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kind = request_kind(body)
        if kind == "planner":
            return kind, self.plan(body)
        if kind == "observer":
            return kind, {"role": "assistant", "content": self.observe(body)}
        return kind, {"role": "assistant", "content": self.caption(body)}

    def plan(self, body: dict[str, Any]) -> dict[str, Any]:
        """Tool calls for the offered functions, or ``finish`` once ``rounds`` rounds are done."""
        done = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant" and m.get("tool_calls"))
        functions = [t["function"] for t in body.get("tools", []) if t.get("type", "function") == "function"]
        names = [f["name"] for f in functions]
        digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
        probes = [f for f in functions if f["name"] != "finish"]
        if self.calls_per_round is not None:
            probes = probes[: self.calls_per_round]
        if done >= self.rounds or not probes:
            if "finish" not in names:
                return {"role": "assistant", "content": "The case is closed: the evidence is sufficient."}
            call = _call(f"call_{digest}_fin", "finish", {"reason": "the evidence covers the clip"})
            return {"role": "assistant", "content": None, "tool_calls": [call]}
        calls = []
        for i, fn in enumerate(probes):
            calls.append(_call(f"call_{digest}_{done}_{i}", fn["name"], _arguments(fn, done + 1)))
        return {"role": "assistant", "content": None, "tool_calls": calls}

    def observe(self, body: dict[str, Any]) -> str:
        """A short description naming the question it answers and a fingerprint of the media it was sent."""
        media = [
            json.dumps(part, sort_keys=True)
            for m in body.get("messages", [])
            if isinstance(m.get("content"), list)
            for part in m["content"]
            if isinstance(part, dict) and part.get("type") != "text"
        ]
        fingerprint = hashlib.sha1("".join(media).encode()).hexdigest()[:8]
        question = _text_of(body).strip().splitlines()
        asked = question[-1][:120] if question else "the clip"
        return (
            f"A steady mid-pitched tone with faint background hiss; no speech is audible "
            f"(signal {fingerprint}). Asked: {asked}"
        )

    def caption(self, body: dict[str, Any]) -> str:
        """A valid structured caption in the canonical format."""
        text = _text_of(body)
        match = re.search(r"duration[^0-9]{0,20}([0-9]+(?:\.[0-9]+)?)", text, flags=re.IGNORECASE)
        duration = float(match.group(1)) if match else 1.0
        half = duration / 2.0
        return (
            "## Storyline\n"
            f"{_stamp(0.0)} - {_stamp(half)}\n"
            "A steady mid-pitched tone sounds over faint background hiss.\n"
            f"{_stamp(half)} - {_stamp(duration)}\n"
            "The tone continues unchanged until the clip ends.\n"
            "## Speakers and Transcript\n"
            "No speech is present in this clip.\n"
            "## Audio Quality\n"
            "Clean, mono, with a faint constant hiss."
        )


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def _arguments(fn: dict[str, Any], round_no: int) -> dict[str, Any]:
    props = (fn.get("parameters") or {}).get("properties") or {}
    args: dict[str, Any] = {}
    for name, schema in props.items():
        types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", []) if isinstance(s, dict)}
        if name == "question" or (name in (fn.get("parameters") or {}).get("required", []) and "string" in types):
            args[name] = f"Round {round_no}: what can be heard in the clip, and how loud is it?"
    return args


# --- the server ------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to a reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stats, not logs
        return

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "test-model", "object": "model"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        owner = self.server.owner
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            self._send(400, {"error": {"message": f"invalid JSON body: {exc}", "type": "invalid_request_error"}})
            return
        try:
            kind, message = owner.responder(body)
        except Exception as exc:  # a responder bug must reach the client as a 500, not a dropped connection
            owner._admit("error", draw=False)
            self._send(500, {"error": {"message": f"responder failed: {exc}", "type": "server_error"}})
            owner._done(started)
            return
        fault, delay = owner._admit(kind)
        if delay:
            time.sleep(delay)
        if fault == "timeout":
            time.sleep(owner.faults.timeout_sleep)
        if fault in {"429", "500"}:
            status, headers = (429, {"Retry-After": f"{owner.faults.retry_after:g}"}) if fault == "429" else (500, {})
            error = {"message": f"injected fault {fault}", "type": "rate_limit" if fault == "429" else "server_error"}
            self._send(status, {"error": error}, headers)
            owner._done(started)
            return
        if fault == "malformed":
            message = _malform(message)
        reply = owner._completion(body, message)
        if fault == "truncated":
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            owner._done(started)
            return
        self._send(200, reply)
        owner._done(started, ok=True)

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout): nothing to do
            self.close_connection = True


def _malform(message: dict[str, Any]) -> dict[str, Any]:
    out = dict(message)
    if out.get("tool_calls"):
        calls = []
        for call in out["tool_calls"]:
            call = json.loads(json.dumps(call))
            call["function"]["arguments"] = call["function"]["arguments"][:-2] + ', "que'
            calls.append(call)
        out["tool_calls"] = calls
    elif isinstance(out.get("content"), str):
        out["content"] = out["content"][: max(1, len(out["content"]) // 3)]
    return out


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many clips connect at once; the default backlog of 5 drops SYNs
    owner: ChatServer


class ChatServer:
    """The loopback server. Use as a context manager; ``url`` is the OpenAI ``base_url`` (ends in ``/v1``).

    :param latency: seconds to hold every reply, or ``(low, high)`` for a uniform draw.
    :param faults: fault injection (none by default).
    :param seed: seed of the generator that draws faults and latencies.
    :param responder: what to answer; :class:`ScriptedDetective` by default.
    :param model: the model id reported in replies when the request names none.
    """

    def __init__(
        self,
        *,
        latency: float | tuple[float, float] = 0.0,
        faults: Faults | None = None,
        seed: int = 0,
        responder: Responder | None = None,
        model: str = "test-model",
    ) -> None:
        self.latency = latency
        self.faults = faults or Faults()
        self.responder: Responder = responder or ScriptedDetective()
        self.model = model
        self.stats = ServerStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = 0

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client."""
        if self._server is None:
            raise RuntimeError("ChatServer is not running: use it as a context manager or call start()")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> ChatServer:
        """Bind to a free port on 127.0.0.1 and serve in a daemon thread."""
        server = _HTTPServer(("127.0.0.1", 0), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="omni-detective-chat-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self.stats = ServerStats()

    # called from handler threads
    def _admit(self, kind: str, draw: bool = True) -> tuple[str | None, float]:
        """Count a request of ``kind``; draw its fault and latency."""
        with self._lock:
            self.stats.requests += 1
            self.stats.by_kind[kind] += 1
            if not draw:
                return None, 0.0
            fault = None
            if self.faults.rate and self._rng.random() < self.faults.rate:
                fault = self._rng.choices(self.faults.kinds, weights=self.faults.weights)[0]
                self.stats.faults[fault] += 1
            latency = self.latency
            delay = self._rng.uniform(*latency) if isinstance(latency, tuple) else float(latency)
        return fault, delay

    def _done(self, started: float, ok: bool = False) -> None:
        with self._lock:
            self.stats.handler_seconds += time.perf_counter() - started
            if ok:
                self.stats.ok += 1

    def _completion(self, body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._ids += 1
            number = self._ids
        prompt_tokens = max(1, len(json.dumps(body.get("messages", []))) // 4)
        content = message.get("content") or ""
        completion_tokens = max(1, (len(content) + len(json.dumps(message.get("tool_calls") or []))) // 4)
        has_calls = bool(message.get("tool_calls"))
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": message.get("content"),
                        **({"tool_calls": message["tool_calls"]} if has_calls else {}),
                    },
                    "finish_reason": "tool_calls" if has_calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
