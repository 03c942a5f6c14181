"""The LLM layer: OpenAI-compatible chat calls with a deadline, bounded retries, usage, cache and redaction.

Calls go through ``openai.AsyncOpenAI``'s own HTTP client (aiohttp, or httpx when chosen), one client per
endpoint and key whose connection pool is sized for the run's concurrent requests, with the SDK's headers and its
exceptions for transport and status failures (the URL and headers built once per client, not once per call).
Each attempt has one total deadline, the endpoint's ``timeout``, over connecting, sending and reading the whole
reply, so a reply that trickles in ends like one that never comes: as a retryable timeout.

Retries live here and only here: the openai SDK's own retries are switched off (``max_retries=0``) so one layer
decides. Retried: 429, 5xx, timeouts and connection errors, with exponential backoff that honours
``Retry-After`` / ``retry-after-ms`` (capped). Not retried: other 4xx (a context overflow among them, whose stated
window is learnt) and input the model cannot take. Every attempt is counted in usage, failed ones included. A call
that sets no ``max_tokens`` gets its role's. The API key never appears in an exception or a log line.

Capabilities are learnt here (see :mod:`detective.llm.capabilities`): a request carrying audio, images or video that
fails with an error status (a 5xx twice) while the same request without its media succeeds marks that input as
unsupported for the run; later calls with it fail at once with ``code="unsupported_input"``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import structlog

from detective.llm.capabilities import context_size_from_error, inputs_of, without_media
from detective.llm.settings import Endpoint
from detective.logs import redact

log = structlog.get_logger("detective.llm.client")

RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
#: Statuses with which an endpoint may turn down a content part it cannot take (llama.cpp's server answers 500).
MEDIA_REFUSAL_STATUS = {400, 415, 422, 500, 501}
CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
UNSUPPORTED_INPUT = "unsupported_input"
TIMEOUT = "timeout"


class LLMError(RuntimeError):
    """A chat call failed for good. The message names the role, model, endpoint host and cause (never the key).

    ``code`` is ``context_length_exceeded`` when the prompt did not fit the model's context (``context_size`` then
    holds the window the endpoint stated, if it did), ``unsupported_input`` when the model cannot take the
    request's audio, images or video, and ``timeout`` when the last attempt found no complete reply within the
    request's deadline (retryable).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        code: str | None = None,
        context_size: int | None = None,
    ) -> None:
        super().__init__(redact(message))
        self.status = status
        self.retryable = retryable
        self.code = code
        self.context_size = context_size


@dataclass
class ChatReply:
    """One chat completion, reduced to what callers use."""

    content: str | None
    tool_calls: list[dict[str, Any]]
    message: dict[str, Any]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 1
    finish_reason: str | None = None

    @property
    def truncated(self) -> bool:
        """True when the reply stopped at ``max_tokens`` (``finish_reason == "length"``)."""
        return self.finish_reason == "length"


_share = 1.0


def set_process_share(share: float) -> None:
    """Give this process ``share`` (0..1] of every :class:`EndpointLimits`: a batch worker process of ``N`` takes
    ``1/N``, so the limits stay totals over the whole run."""
    global _share
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be within (0, 1], got {share}")
    _share = share


@dataclass
class EndpointLimits:
    """Per-endpoint limits shared by every clip of a batch: concurrent requests, requests and tokens per minute.

    In a batch worker process the limits are scaled by the process's share (see :func:`set_process_share`).
    """

    max_concurrent: int = 16
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    _sems: dict[tuple[int, str], asyncio.Semaphore] = field(default_factory=dict)
    _next_slot: dict[str, float] = field(default_factory=dict)
    _tokens: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    @property
    def concurrency(self) -> int:
        """Concurrent requests this process may have open to one endpoint: its share of ``max_concurrent``."""
        return max(1, int(self.max_concurrent * _share))

    def semaphore(self, host: str) -> asyncio.Semaphore:
        """The semaphore bounding concurrent requests to ``host`` on the running loop."""
        key = (id(asyncio.get_running_loop()), host)
        if key not in self._sems:
            self._sems[key] = asyncio.Semaphore(self.concurrency)
        return self._sems[key]

    async def pace(self, host: str) -> None:
        """Wait for the next request slot of ``host`` (requests and tokens per minute)."""
        now = time.monotonic()
        if self.requests_per_minute:
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + 60.0 / (self.requests_per_minute * _share)
            if slot > now:
                await asyncio.sleep(slot - now)
        if self.tokens_per_minute:
            window = self._tokens.setdefault(host, [])
            while True:
                now = time.monotonic()
                window[:] = [(t, n) for t, n in window if now - t < 60.0]
                if sum(n for _, n in window) < self.tokens_per_minute * _share:
                    break
                await asyncio.sleep(max(0.05, 60.0 - (now - window[0][0])))

    def spent(self, host: str, tokens: int) -> None:
        """Record tokens spent on ``host`` for the tokens-per-minute window."""
        if self.tokens_per_minute:
            self._tokens.setdefault(host, []).append((time.monotonic(), tokens))


#: The environment variable that picks the openai SDK's HTTP client: ``aiohttp`` (default,
#: ``openai.DefaultAioHttpClient``) or ``httpx`` (``openai.DefaultAsyncHttpxClient``). httpx's connection pool
#: (httpcore) scans every connection for every request: at 50 requests in flight a chat call costs about 8 ms of
#: CPU on it against 2 ms on aiohttp's, and it grows with the number in flight (``benchmarks/pipeline.py``).
HTTP_CLIENT_ENV = "OMNI_DETECTIVE_HTTP_CLIENT"
HTTP_CLIENTS = ("httpx", "aiohttp")
#: Per event loop: (base URL, key, timeout, pool size, HTTP client) -> the endpoint's openai client. An httpx or
#: aiohttp connection pool belongs to the loop it was opened on, so each loop (each ``asyncio.run``) has its own.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], openai.AsyncOpenAI]] = (
    weakref.WeakKeyDictionary()
)


def http_client_kind(env: Mapping[str, str] | None = None) -> str:
    """The HTTP client chat calls use, from ``OMNI_DETECTIVE_HTTP_CLIENT``: ``aiohttp`` (default) or ``httpx``."""
    kind = (os.environ if env is None else env).get(HTTP_CLIENT_ENV, "aiohttp").strip().lower() or "aiohttp"
    if kind not in HTTP_CLIENTS:
        raise ValueError(f"{HTTP_CLIENT_ENV} must be one of {', '.join(HTTP_CLIENTS)}, got {kind!r}")
    return kind


def sdk_client(endpoint: Endpoint, pool: int | None = None) -> openai.AsyncOpenAI:
    """The endpoint's ``openai.AsyncOpenAI`` on the running loop: one per endpoint and key, built on first use.

    Its HTTP client is the SDK's own: ``DefaultAioHttpClient`` (httpx's API on aiohttp), or
    ``DefaultAsyncHttpxClient`` when ``OMNI_DETECTIVE_HTTP_CLIENT=httpx``. Either way environment proxies
    (``HTTPS_PROXY``, ``NO_PROXY``) and ``SSL_CERT_FILE`` apply as httpx applies them. ``pool`` sizes its connection
    pool (the run's concurrent requests to the endpoint, kept alive between calls); ``None`` keeps the SDK's limits.
    The SDK's retries are off: :class:`LLMClient` retries. The client is closed when its loop's runner ends.
    """
    kind = http_client_kind()
    key_value = endpoint.api_key.get_secret_value() if endpoint.api_key else ""
    cache_key = (endpoint.base_url, key_value, endpoint.timeout, pool, kind)
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(cache_key)
    if client is None:
        limits = (
            httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
            if pool
            else openai.DEFAULT_CONNECTION_LIMITS
        )
        make = openai.DefaultAioHttpClient if kind == "aiohttp" else openai.DefaultAsyncHttpxClient
        client = openai.AsyncOpenAI(
            api_key=key_value or "missing",
            base_url=endpoint.base_url,
            timeout=endpoint.timeout,
            max_retries=0,
            http_client=make(timeout=endpoint.timeout, limits=limits),
        )
        per_loop[cache_key] = client
        closer = asyncio.get_running_loop().create_task(_close_when_the_loop_ends(client))
        _closers.add(closer)  # a strong reference, dropped once the client is closed
        closer.add_done_callback(_closers.discard)
    return client


_closers: set[asyncio.Task[None]] = set()


async def _close_when_the_loop_ends(client: openai.AsyncOpenAI) -> None:
    """Hold ``client`` open until the loop's runner cancels the tasks left (``asyncio.run`` does as it ends), then
    close its connections (an aiohttp session left open is reported as a leak)."""
    try:
        await asyncio.get_running_loop().create_future()
    finally:
        await client.close()


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    if headers.get("retry-after-ms"):
        try:
            return float(headers["retry-after-ms"]) / 1000.0
        except ValueError:
            return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def request_key(endpoint: Endpoint, body: dict[str, Any]) -> str:
    """Cache key of a chat request: model, endpoint host and the whole request body."""
    blob = json.dumps({"host": endpoint.host, "model": endpoint.model, **body}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class LLMClient:
    """Chat with one role's endpoint. Build through ``RunServices.llm(role)``."""

    def __init__(self, endpoint: Endpoint, services: Any = None) -> None:
        self.endpoint = endpoint
        self.services = services

    @property
    def model(self) -> str:
        """The model id this client calls."""
        return self.endpoint.model

    async def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extra_body: dict[str, Any] | None = None,
        cache: bool = True,
    ) -> ChatReply:
        """One chat completion, retried on transient errors. Raises :class:`LLMError` when it fails for good.

        ``max_tokens=None`` sends the role's limit (``Endpoint.max_tokens``); ``0`` sends none.
        """
        ep = self.endpoint
        if not ep.available:
            raise LLMError(
                f"{ep.role} model {ep.model} at {ep.host}: no API key; set OPENAI_API_KEY or "
                f"OMNI_DETECTIVE_{ep.role.upper()}_API_KEY, or run offline"
            )
        refused = sorted(k for k in inputs_of(messages) if self.capabilities().accepts(k) is False)
        if refused:
            raise self._unsupported(refused)
        body: dict[str, Any] = {"messages": messages}
        if tools:
            body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
        if temperature is not None:
            body["temperature"] = temperature
        max_tokens = ep.max_tokens if max_tokens is None else (max_tokens or None)
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if extra_body:
            body["extra_body"] = extra_body
        store = getattr(self.services, "cache", None) if cache else None
        key = request_key(ep, body) if store is not None else ""
        if store is not None:
            hit = store.get("llm", key)
            if hit is not None:
                reply = ChatReply(**hit)
                reply.cached = True
                self._record(reply)
                return reply
        reply = await self._call_with_retries(body)
        self._record(reply)
        if store is not None:
            data = dict(reply.__dict__)
            data["cached"] = False
            store.put("llm", key, data)
        return reply

    def _record(self, reply: ChatReply) -> None:
        usage = getattr(self.services, "usage", None)
        if usage is not None:
            usage.add_model(self.endpoint.model, reply.prompt_tokens, reply.completion_tokens, cached=reply.cached)

    def _record_failure(self) -> None:
        usage = getattr(self.services, "usage", None)
        if usage is not None:
            usage.add_model(self.endpoint.model, 0, 0, failed=True)

    def capabilities(self) -> Any:
        """What is known of this endpoint's model (:class:`detective.llm.capabilities.Capabilities`)."""
        from detective.llm.capabilities import Capabilities

        store = getattr(self.services, "capabilities", None)
        return store.get(self.endpoint) if store is not None else Capabilities()

    def learn(self, **facts: Any) -> bool:
        """Record capabilities of this endpoint's model for the run; True when something changed."""
        store = getattr(self.services, "capabilities", None)
        return bool(store.learn(self.endpoint, **facts)) if store is not None else False

    def _unsupported(self, kinds: list[str]) -> LLMError:
        ep = self.endpoint
        return LLMError(
            f"{ep.role} model {ep.model} cannot take {' or '.join(kinds)} input (its endpoint refused it and "
            "answered text-only requests); not asked again this run",
            status=None,
            code=UNSUPPORTED_INPUT,
        )

    async def _attempt(self, body: dict[str, Any]) -> ChatReply:
        """One request, paced and bounded by the endpoint limits; a failed one is counted in usage."""
        ep = self.endpoint
        limits = getattr(self.services, "limits", None)
        try:
            if limits is not None:
                await limits.pace(ep.host)
                async with limits.semaphore(ep.host):
                    reply = await self._call_once(body)
                limits.spent(ep.host, reply.prompt_tokens + reply.completion_tokens)
            else:
                reply = await self._call_once(body)
        except _FAILURES:
            self._record_failure()
            raise
        return reply

    async def _refuses_media(self, body: dict[str, Any]) -> bool:
        """After a media request failed: does the endpoint answer the same request without its media parts?"""
        probe = {**body, "messages": without_media(body["messages"]), "max_tokens": 1}
        try:
            reply = await self._attempt(probe)
        except _FAILURES:
            return False
        self._record(reply)
        return True

    async def _call_with_retries(self, body: dict[str, Any]) -> ChatReply:
        ep = self.endpoint
        last: Exception | None = None
        caps = self.capabilities()
        unknown = {k for k in inputs_of(body["messages"]) if caps.accepts(k) is None}
        media_failures = 0
        for attempt in range(1, ep.max_attempts + 1):
            try:
                reply = await self._attempt(body)
                reply.attempts = attempt
                if unknown:
                    self.learn(**{f"{k}_input": True for k in unknown})
                return reply
            except _FAILURES as exc:
                last = exc
                status = getattr(exc, "status_code", None)
                overflow = _context_overflow(exc)
                if overflow is not None:
                    raise self._overflow(exc, overflow) from exc
                if unknown and status in MEDIA_REFUSAL_STATUS:
                    # A refusal of an audio/image part looks like any other error: ask the same without the media.
                    # Twice refused while text-only works: the model cannot take it (a transient 500 rarely hits
                    # the same request twice).
                    media_failures += 1
                    settled = media_failures >= 2 or status not in RETRYABLE_STATUS
                    if settled and await self._refuses_media(body):
                        self.learn(**{f"{k}_input": False for k in unknown})
                        log.warning("model cannot take input", role=ep.role, model=ep.model, inputs=sorted(unknown))
                        raise self._unsupported(sorted(unknown)) from exc
                retryable = status is None or status in RETRYABLE_STATUS
                if not retryable or attempt == ep.max_attempts:
                    break
                delay = _retry_after(exc)
                if delay is None:
                    delay = ep.backoff * (2 ** (attempt - 1)) * (0.75 + 0.5 * random.random())
                delay = min(delay, ep.max_backoff)
                log.info(
                    "llm retry",
                    role=ep.role,
                    model=ep.model,
                    host=ep.host,
                    attempt=attempt,
                    status=status,
                    delay=round(delay, 3),
                    error=redact(str(exc))[:200],
                )
                await asyncio.sleep(delay)
        status = getattr(last, "status_code", None)
        kind = "timeout" if isinstance(last, _Deadline) else type(last).__name__ if last else "error"
        detail = redact(_describe(last))[:300] if last else ""
        raise LLMError(
            f"{ep.role} model {ep.model} at {ep.host} failed after {attempt} attempt(s): {kind}"
            + (f" {status}" if status else "")
            + (f": {detail}" if detail else ""),
            status=status,
            retryable=status is None or status in RETRYABLE_STATUS,
            code=TIMEOUT if isinstance(last, (_Deadline, openai.APITimeoutError)) else None,
        )

    def _overflow(self, exc: Exception, stated: int) -> LLMError:
        ep = self.endpoint
        if stated:
            self.learn(context_size=stated)
        return LLMError(
            f"{ep.role} model {ep.model} at {ep.host}: the prompt does not fit the model's context"
            + (f" of {stated} tokens" if stated else "")
            + f" ({CONTEXT_LENGTH_EXCEEDED}); shorten it or raise the model's context, retrying will not help",
            status=getattr(exc, "status_code", None),
            code=CONTEXT_LENGTH_EXCEEDED,
            context_size=stated or None,
        )

    async def _call_once(self, body: dict[str, Any]) -> ChatReply:
        """One POST through the SDK's client, bounded as a whole (connect, send, every byte of the reply) by the
        endpoint's timeout: httpx's and aiohttp's timeouts bound each read, so a reply that trickles a byte at a
        time would never end on them alone."""
        ep = self.endpoint
        limits = getattr(self.services, "limits", None)
        sdk = sdk_client(ep, limits.concurrency if limits is not None else None)
        payload = dict(body)
        payload.update(payload.pop("extra_body", None) or {})
        payload["model"] = ep.model
        # The request body is already plain JSON: post it as is, and read the reply as plain JSON. The SDK's
        # per-call transform walks every message part (base64 audio and images included), and building its
        # pydantic ChatCompletion costs more than the call's own work at scale.
        data = json.dumps(payload, separators=(",", ":")).encode()
        try:
            async with asyncio.timeout(ep.timeout):
                response = await _post_chat(sdk, data)
        except TimeoutError as exc:
            raise _Deadline(f"no complete reply within {ep.timeout:g} s (the request's deadline)") from exc
        try:
            completion = json.loads(response.content)
        except (json.JSONDecodeError, ValueError) as exc:
            raise _BadReply(f"unreadable reply: {exc}") from exc
        return _reply(completion, ep.model)


#: Per openai client: the chat completions URL and the headers it sends (its key, user agent and platform headers).
_chat_requests: weakref.WeakKeyDictionary[openai.AsyncOpenAI, tuple[httpx.URL, dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)


async def _post_chat(sdk: openai.AsyncOpenAI, data: bytes) -> httpx.Response:
    """POST a chat body on ``sdk``'s own HTTP client, with its URL and headers, failing with its exceptions.

    The openai client's ``post`` merges request options, headers and the URL anew for every call, which costs
    about as much CPU as the HTTP exchange itself (``benchmarks/upstream_baseline.py``); here they are built once
    per client. Failures are the SDK's as its ``request`` raises them: a timeout ``APITimeoutError``, another
    transport failure ``APIConnectionError``, an error status the SDK's status error (``RateLimitError`` …).
    ``_client`` and ``_make_status_error_from_response`` are the SDK's own (private in name; openai is pinned).
    """
    made = _chat_requests.get(sdk)
    client = sdk._client  # the SDK's HTTP client
    if made is None:
        own = {k: v for k, v in {**sdk.default_headers, **sdk.auth_headers}.items() if isinstance(v, str)}
        merged = httpx.Headers(client.headers)  # what build_request merges: the client's, then the call's
        merged.update(own)
        headers = dict(merged.items())
        url = sdk.base_url.copy_with(raw_path=sdk.base_url.raw_path.rstrip(b"/") + b"/chat/completions")
        made = _chat_requests[sdk] = (url, headers)
    url, headers = made
    request = httpx.Request(
        "POST", url, content=data, headers=headers, extensions={"timeout": client.timeout.as_dict()}
    )
    try:
        response = await _exchange(client, request)
    except httpx.TimeoutException as exc:
        raise openai.APITimeoutError(request=request) from exc
    except httpx.HTTPError as exc:
        raise openai.APIConnectionError(request=request) from exc
    if response.status_code >= 400:
        raise sdk._make_status_error_from_response(response)
    return response


async def _exchange(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """``request`` sent on the transport ``client`` sends it on (its pool, the proxy the environment gives for the
    URL, or a test's mock: respx patches ``_transport_for_url``), and the whole reply read.

    ``client.send`` wraps that exchange in its auth and redirect flows and keeps the reply's cookies: for a JSON
    API with the key in a header none of them applies, and at batch concurrency they cost more CPU than the
    exchange itself (``benchmarks/upstream_baseline.py``). A redirect, which an API behind a proxy may give, is
    followed by ``client.send`` as before.
    """
    response = await client._transport_for_url(request.url).handle_async_request(request)
    response.request = request
    try:
        await response.aread()
    finally:
        await response.aclose()
    if response.is_redirect and client.follow_redirects:
        return await client.send(request)
    return response


def _reply(completion: Any, default_model: str) -> ChatReply:
    """A :class:`ChatReply` from a chat-completion JSON body; :class:`_BadReply` when it has no usable choice."""
    if not isinstance(completion, dict):
        raise _BadReply("reply is not a JSON object")
    choices = completion.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise _BadReply("reply has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise _BadReply("reply's first choice has no message")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise _BadReply("reply's message content is not text")
    tool_calls = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not fn.get("name"):
            continue
        arguments = fn.get("arguments")
        tool_calls.append(
            {
                "id": call.get("id") or "",
                "type": "function",
                "function": {"name": fn["name"], "arguments": arguments if isinstance(arguments, str) else ""},
            }
        )
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    usage = completion.get("usage") if isinstance(completion.get("usage"), dict) else {}
    finish = choices[0].get("finish_reason")
    return ChatReply(
        content=content,
        tool_calls=tool_calls,
        message=msg,
        model=completion.get("model") or default_model,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=finish if isinstance(finish, str) else None,
    )


def _describe(exc: Exception) -> str:
    """An exception's message; for the SDK's terse connection errors and timeouts, with the transport's cause
    appended (httpx-aiohttp reports a refused certificate as a connect timeout: only the cause says why)."""
    text = str(exc)
    cause = exc.__cause__
    if isinstance(exc, openai.APIConnectionError) and cause is not None and str(cause):
        text += f" ({type(cause).__name__}: {cause})"
    return text


def _context_overflow(exc: Exception) -> int | None:
    """For a context-overflow error, the window it states (0 when it states none); ``None`` for other errors."""
    status = getattr(exc, "status_code", None)
    if status not in {400, 413, 422}:
        return None
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    text = str(exc)
    if code != CONTEXT_LENGTH_EXCEEDED and CONTEXT_LENGTH_EXCEEDED not in text:
        lowered = text.lower()
        if "context length" not in lowered and "context window" not in lowered:
            return None
    return context_size_from_error(text) or 0


class _BadReply(Exception):
    """A 200 reply whose body could not be used (truncated JSON, no choices): retried like a 5xx."""


class _Deadline(Exception):
    """An attempt found no complete reply within the endpoint's timeout (a stalled or trickling reply): retried."""


_FAILURES = (openai.APIStatusError, openai.APIConnectionError, openai.APITimeoutError, _BadReply, _Deadline)
