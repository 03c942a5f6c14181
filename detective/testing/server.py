"""A loopback OpenAI-compatible chat server for integration, fault and benchmark runs.

It listens on ``127.0.0.1`` on a free port, serves ``POST /v1/chat/completions`` from an asyncio event loop in a
daemon thread (so hundreds of concurrent connections cost no threads, and a reply's delay is a timer), and can
delay every reply and inject faults (429 with ``Retry-After``, 500, replies slower than the client's timeout,
malformed tool-call arguments, bodies cut short) with a seeded random generator, so a failing run can be
replayed. :class:`Quirks` make it behave like a real small model's endpoint: ``tools`` silently ignored, 500 for
content parts it cannot take, 400 ``context_length_exceeded`` past its context, generation that runs on until
``max_tokens``. What it answers is decided by a *responder*; the default :class:`ScriptedDetective` plays every
role of a Detective run::

    with ChatServer(latency=0.1, faults=Faults(rate=0.3), seed=1) as server:
        settings = Settings.from_env(api_key="test", base_url=server.url)
        ...
    print(server.stats.by_kind)   # {"planner": 40, "observer": 80, "captioner": 20}
"""

from __future__ import annotations

import asyncio
import contextlib
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
from http import HTTPStatus
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
class Quirks:
    """How a real endpoint (a small local model behind an OpenAI-compatible server) departs from the API.

    - ``ignore_tools``: ``tools`` are accepted and ignored: the responder sees the request without them.
    - ``refuse_parts``: content-part types (``input_audio``, ``image_url`` …) answered with a 500.
    - ``context_size``: a prompt of at least this many tokens (4 bytes of the messages' JSON each) is answered
      400 ``context_length_exceeded`` with OpenAI's message, which states the window.
    - ``endless``: the model never stops by itself: it generates until ``max_tokens`` (else until the context, or
      ``endless_tokens``, is full) and the reply ends with ``finish_reason: "length"``; each token takes
      ``token_seconds``.
    """

    ignore_tools: bool = False
    refuse_parts: frozenset[str] = frozenset()
    context_size: int | None = None
    endless: bool = False
    endless_tokens: int = 8192
    token_seconds: float = 0.0


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


# --- the default responder -------------------------------------------------------------------------------


def request_kind(body: dict[str, Any]) -> str:
    """``planner`` when the request offers tools or asks for ``tool_name`` JSON replies, ``observer`` when it
    carries audio or images, else ``captioner``."""
    if body.get("tools") or _json_planner_tools(body) is not None:
        return "planner"
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") in {"input_audio", "image_url", "video_url"}:
                    return "observer"
    return "captioner"


_JSON_TOOLS = re.compile(r"You have these analysis tools: (\[.*?\])\n", re.S)


def _json_planner_tools(body: dict[str, Any]) -> list[str] | None:
    """The tool names a JSON-mode planner prompt (the LLM planner without function calling) lists, else ``None``."""
    messages = body.get("messages") or []
    system = messages[0].get("content") if messages and messages[0].get("role") == "system" else None
    match = _JSON_TOOLS.search(system) if isinstance(system, str) else None
    if match is None:
        return None
    try:
        return [t["tool_name"] for t in json.loads(match.group(1)) if isinstance(t, dict) and "tool_name" in t]
    except (json.JSONDecodeError, TypeError):
        return None


def _rounds_done(body: dict[str, Any]) -> int:
    """Planner rounds already played: assistant turns with tool calls, or ``at most M rounds`` in the system
    prompt less ``Inquiries remaining: R`` in the last turn (a compact prompt keeps only the last exchange)."""
    messages = body.get("messages") or []
    done = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    system = messages[0].get("content") if messages and messages[0].get("role") == "system" else ""
    last = messages[-1].get("content") if messages else ""
    most = re.search(r"at most (\d+) rounds", system) if isinstance(system, str) else None
    left = re.findall(r"Inquiries remaining: (\d+)", last) if isinstance(last, str) else []
    if most and left:
        done = max(done, int(most.group(1)) - int(left[-1]))
    return done


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
      tool calls already in the conversation, or from ``Inquiries remaining``) it calls up to ``calls_per_round``
      of the offered functions other than ``finish`` (all of them by default), with arguments built from each
      function's schema; then it calls ``finish`` (or answers in text if no ``finish`` is offered). A JSON-mode
      planner prompt (no ``tools``, a ``tool_name`` list in the system prompt) gets the same as a JSON list of
      ``{"tool_name", "question"}``, then ``{"finish": true}``.
    - observer (audio or image parts): a short description naming the question.
    - captioner (anything else): a structured caption in the canonical Markdown format, spanning the clip's
      duration when the prompt states one.
    """

    def __init__(
        self, rounds: int = 2, calls_per_round: int | None = None, calls_per_tool: int = 1, answer_bytes: int = 0
    ) -> None:
        self.rounds = rounds
        self.calls_per_round = calls_per_round
        #: Questions to each offered function per round (a planner asking several things at once).
        self.calls_per_tool = calls_per_tool
        #: Observer answers are padded to about this many bytes (0: short), like a real model's paragraphs.
        self.answer_bytes = answer_bytes

    def __call__(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kind = request_kind(body)
        if kind == "planner":
            return kind, self.plan(body)
        if kind == "observer":
            return kind, {"role": "assistant", "content": self.observe(body)}
        return kind, {"role": "assistant", "content": self.caption(body)}

    def plan(self, body: dict[str, Any]) -> dict[str, Any]:
        """Tool calls for the offered functions, or ``finish`` once ``rounds`` rounds are done."""
        done = _rounds_done(body)
        listed = _json_planner_tools(body)
        if not body.get("tools") and listed is not None:
            names = listed[: self.calls_per_round] if self.calls_per_round is not None else listed
            if done >= self.rounds or not names:
                return {"role": "assistant", "content": '{"finish": true}'}
            asks = [{"tool_name": n, "question": f"Round {done + 1}: what can be heard in the clip?"} for n in names]
            return {"role": "assistant", "content": json.dumps(asks)}
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
            for j in range(self.calls_per_tool):
                arguments = _arguments(fn, done + 1)
                if j and "question" in arguments:
                    arguments["question"] += f" (detail {j + 1})"
                calls.append(_call(f"call_{digest}_{done}_{i}_{j}", fn["name"], arguments))
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
        answer = (
            f"A steady mid-pitched tone with faint background hiss; no speech is audible "
            f"(signal {fingerprint}). Asked: {asked}"
        )
        filler = (
            " The tone holds a constant pitch and loudness from start to end, with no clipping or distortion;"
            " the hiss sits well below it, broadband and even, as from a quiet recording chain."
        )
        while len(answer) < self.answer_bytes:
            answer += filler
        return answer

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

_MAX_HEAD = 64 * 1024
#: At most this much (seconds) is a timer aimed early: about the granularity of epoll's timeout.
_MAX_AIM_EARLY = 0.0015


def _response(status: int, payload: bytes, headers: dict[str, str] | None = None, close: bool = False) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Connection: close" if close else "Connection: keep-alive",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


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


class ChatServer:
    """The loopback server. Use as a context manager; ``url`` is the OpenAI ``base_url`` (ends in ``/v1``).

    :param latency: seconds to hold every reply, or ``(low, high)`` for a uniform draw.
    :param faults: fault injection (none by default).
    :param seed: seed of the generator that draws faults and latencies.
    :param responder: what to answer; :class:`ScriptedDetective` by default.
    :param model: the model id reported in replies when the request names none.
    :param quirks: how it departs from the API like a real small model's endpoint (none by default).
    """

    def __init__(
        self,
        *,
        latency: float | tuple[float, float] = 0.0,
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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._port = 0
        self._ids = 0
        self._late = 0.0

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client."""
        if self._server is None:
            raise RuntimeError("ChatServer is not running: use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._port}/v1"

    def start(self) -> ChatServer:
        """Bind to a free port on 127.0.0.1 and serve from an event loop in a daemon thread."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="omni-detective-chat-server", daemon=True)
        self._thread.start()
        # a deep backlog: many clips connect at once, and the default drops SYNs under a burst
        opening = asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024, limit=_MAX_HEAD)
        self._server = asyncio.run_coroutine_threadsafe(opening, loop).result(timeout=10)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port."""
        loop, server = self._loop, self._server
        if loop is not None and server is not None:

            async def shut() -> None:
                server.close()
                for writer in list(self._writers):
                    writer.close()
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await server.wait_closed()

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout=5)
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if loop is not None and not loop.is_running():
            loop.close()
        self._server = None
        self._thread = None
        self._loop = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._lock:
            self.stats = ServerStats()

    # --- serving (on the server's event loop) ---------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                arrived = time.perf_counter()
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                try:
                    length = int(headers.get("content-length") or 0)
                    raw = await reader.readexactly(length) if length else b""
                except (ValueError, asyncio.IncompleteReadError, ConnectionError):
                    return
                method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
                reply, close = await self._reply(method, path, raw, arrived)
                try:
                    writer.write(reply)
                    await writer.drain()
                except ConnectionError:  # the client gave up (its timeout): nothing to do
                    return
                if close or headers.get("connection", "").lower() == "close":
                    return
        except asyncio.CancelledError:  # stop(): end quietly, the connection is being dropped anyway
            return
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()

    async def _reply(self, method: str, path: str, raw: bytes, arrived: float) -> tuple[bytes, bool]:
        """The bytes to send for one request, and whether to close the connection after them.

        The reply leaves ``latency`` seconds after the request's head arrived: the server's own work (parsing,
        answering) is part of the latency, and the event loop's timers, which wake up to a millisecond late
        (epoll's granularity), are aimed early by their mean lateness, learnt as the server runs, so the mean latency is
        the one configured.
        """
        route = path.split("?", 1)[0].rstrip("/")
        if method == "GET" and route.endswith("/models"):
            return _response(200, _json({"object": "list", "data": [{"id": "test-model", "object": "model"}]})), False
        if method != "POST" or not route.endswith("/chat/completions"):
            return _response(404, _json({"error": {"message": f"no route {path}", "type": "not_found"}})), False
        started = arrived
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            error = {"message": f"invalid JSON body: {exc}", "type": "invalid_request_error"}
            return _response(400, _json({"error": error})), False
        quirk = self._quirk(body)
        if quirk is not None:
            self._done(started)
            return quirk, False
        if self.quirks.ignore_tools:
            body = {k: v for k, v in body.items() if k not in {"tools", "tool_choice"}}
        try:
            kind, message = self.responder(body)
            with self._lock:
                self.stats.prompt_bytes[kind] += _prompt_bytes(body)
        except Exception as exc:  # a responder bug must reach the client as a 500, not a dropped connection
            self._admit("error", draw=False)
            self._done(started)
            return _response(
                500, _json({"error": {"message": f"responder failed: {exc}", "type": "server_error"}})
            ), False
        fault, delay = self._admit(kind)
        if delay:
            target = arrived + delay
            await asyncio.sleep(max(0.0, target - time.perf_counter() - self._late))
            # learn how late this loop's timers wake (within the timer granularity: lateness from load stays)
            self._late = min(_MAX_AIM_EARLY, max(0.0, self._late + 0.1 * (time.perf_counter() - target)))
        if fault == "timeout":
            await asyncio.sleep(self.faults.timeout_sleep)
        if fault in {"429", "500"}:
            status, headers = (429, {"Retry-After": f"{self.faults.retry_after:g}"}) if fault == "429" else (500, {})
            error = {"message": f"injected fault {fault}", "type": "rate_limit" if fault == "429" else "server_error"}
            self._done(started)
            return _response(status, _json({"error": error}), headers), False
        if fault == "malformed":
            message = _malform(message)
        completion = self._completion(body, message)
        if self.quirks.endless:
            completion = self._endless(body, completion)
            tokens = completion["usage"]["completion_tokens"]
            if self.quirks.token_seconds:
                await asyncio.sleep(tokens * self.quirks.token_seconds)
        data = _json(completion)
        if fault == "truncated":  # the head promises the whole body; half of it arrives, then the connection closes
            self._done(started)
            return _response(200, data, close=True)[: -(len(data) - len(data) // 2)], True
        self._done(started, ok=True)
        return _response(200, data), False

    def _quirk(self, body: dict[str, Any]) -> bytes | None:
        """The error reply a quirk gives ``body`` (a refused content part, a context overflow), else ``None``."""
        quirks = self.quirks
        if quirks.refuse_parts:
            for message in body.get("messages") or []:
                content = message.get("content")
                for part in content if isinstance(content, list) else []:
                    if isinstance(part, dict) and part.get("type") in quirks.refuse_parts:
                        self._admit("refused", draw=False)
                        error = {"message": f"Unknown content part type: {part['type']}", "type": "server_error"}
                        return _response(500, _json({"error": error}))
        if quirks.context_size is not None:
            tokens = _prompt_tokens(body)
            if tokens >= quirks.context_size:
                self._admit("overflow", draw=False)
                error = {
                    "message": f"This model's maximum context length is {quirks.context_size} tokens. However, "
                    f"your messages resulted in {tokens} tokens. Please reduce the length of the messages.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
                return _response(400, _json({"error": error}))
        return None

    def _endless(self, body: dict[str, Any], completion: dict[str, Any]) -> dict[str, Any]:
        """``completion`` as a model that never stops would give it: text until ``max_tokens`` or the context."""
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if not limit:
            window = self.quirks.context_size or self.quirks.endless_tokens
            limit = max(1, window - _prompt_tokens(body))
        limit = int(limit)
        choice = completion["choices"][0]
        choice["message"] = {"role": "assistant", "content": ("and then " * limit)[: 4 * limit]}
        choice["finish_reason"] = "length"
        usage = completion["usage"]
        usage["completion_tokens"] = limit
        usage["total_tokens"] = usage["prompt_tokens"] + limit
        return completion

    # --- bookkeeping (stats are read from other threads) -------------------------------------------------------

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
        prompt_tokens = _prompt_tokens(body)
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


def _prompt_tokens(body: dict[str, Any]) -> int:
    """The server's token count of a prompt: 4 bytes of the messages' JSON each."""
    return max(1, len(json.dumps(body.get("messages", []))) // 4)


def _prompt_bytes(body: dict[str, Any]) -> int:
    """Bytes of a request's prompt as sent: its ``messages`` and ``tools`` (the request body less the rest)."""
    parts = [body.get("messages") or [], body.get("tools") or []]
    return sum(len(json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode()) for p in parts if p)
