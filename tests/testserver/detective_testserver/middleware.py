"""The middleware around the chat handler, outermost first:

- :func:`count` times each request from its arrival and counts the replies sent whole;
- :func:`deliver` serialises the completion once and sends it whole, cut short or trickled;
- :func:`quirks` plays a real endpoint's departures from the API (:class:`~detective_testserver.Quirks`);
- :func:`faults` holds the reply for its drawn latency and injects the drawn fault
  (:class:`~detective_testserver.Faults`).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from detective_testserver.config import Faults, Quirks
from detective_testserver.routes import body_of, error_response, prompt_tokens
from detective_testserver.state import ARRIVED, BODY, COMPLETION, CUT, FAULT, KIND, STATE, ServerState


@web.middleware
async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add each counted request's time to ``handler_seconds``; count a 200 sent whole as ``ok``."""
    request[ARRIVED] = started = time.perf_counter()
    response = await handler(request)
    if KIND in request:
        request.config_dict[STATE].done(started, ok=response.status == 200 and not response.get(CUT, False))
    return response


@web.middleware
async def deliver(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Send the completion whole, or as its drawn fault says: ``truncated`` or ``trickle``."""
    response = await handler(request)
    completion = response.get(COMPLETION)
    if completion is None:
        return response
    data = json.dumps(completion).encode()
    fault = response.get(FAULT)
    if fault == "truncated":
        return await _truncated(request, data)
    if fault == "trickle":
        return await _trickle(request, data, request.config_dict[STATE].faults)
    response.body = data
    return response


async def _truncated(request: web.Request, data: bytes) -> web.StreamResponse:
    """The head promises the whole body; half of it is sent, then the connection closes."""
    response = _stream(data, "truncated")
    await response.prepare(request)
    await response.write(data[: len(data) // 2])
    response[CUT] = True
    if request.transport is not None:
        request.transport.close()
    return response


async def _trickle(request: web.Request, data: bytes, faults: Faults) -> web.StreamResponse:
    """The head at once, then the body in pieces spread evenly over ``trickle_seconds``."""
    wanted = max(1, round(faults.trickle_seconds / faults.trickle_interval))
    size = -(-len(data) // min(wanted, max(1, len(data))))
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    pause = faults.trickle_seconds / max(1, len(pieces))
    response = _stream(data, "trickle")
    await response.prepare(request)
    try:
        for piece in pieces:
            await asyncio.sleep(pause)
            await response.write(piece)
    except ConnectionError:  # the client gave up (its deadline): aiohttp closes quietly from here
        response[CUT] = True
    return response


def _stream(data: bytes, fault: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(data)
    response[FAULT] = fault
    return response


@web.middleware
async def quirks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse content parts, overflow the context, drop ``tools``, generate until ``max_tokens``."""
    state = request.config_dict[STATE]
    quirks = state.quirks
    if quirks.refuse_parts or quirks.context_size is not None or quirks.ignore_tools:
        body = await body_of(request)
        refusal = _refusal(state, quirks, request, body)
        if refusal is not None:
            return refusal
        if quirks.ignore_tools:
            request[BODY] = {k: v for k, v in body.items() if k not in {"tools", "tool_choice"}}
    response = await handler(request)
    if quirks.endless and COMPLETION in response:
        tokens = _endless(quirks, request[BODY], response[COMPLETION])
        if quirks.token_seconds:
            await asyncio.sleep(tokens * quirks.token_seconds)
    return response


def _refusal(state: ServerState, quirks: Quirks, request: web.Request, body: dict[str, Any]) -> web.Response | None:
    """The error reply a quirk gives ``body`` (a refused content part, a context overflow), else ``None``."""
    refusable = (body.get("messages") or []) if quirks.refuse_parts else []
    for message in refusable:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and part.get("type") in quirks.refuse_parts:
                state.count(request, "refused")
                return error_response(500, f"Unknown content part type: {part['type']}", "server_error")
    if quirks.context_size is not None:
        tokens = prompt_tokens(body)
        if tokens >= quirks.context_size:
            state.count(request, "overflow")
            message = (
                f"This model's maximum context length is {quirks.context_size} tokens. However, your messages "
                f"resulted in {tokens} tokens. Please reduce the length of the messages."
            )
            extra = {"param": "messages", "code": "context_length_exceeded"}
            return error_response(400, message, "invalid_request_error", **extra)
    return None


def _endless(quirks: Quirks, body: dict[str, Any], completion: dict[str, Any]) -> int:
    """Rewrite ``completion`` as a model that never stops gives it (text until ``max_tokens`` or the context);
    return the tokens generated."""
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if not limit:
        limit = max(1, (quirks.context_size or quirks.endless_tokens) - prompt_tokens(body))
    limit = int(limit)
    choice = completion["choices"][0]
    choice["message"] = {"role": "assistant", "content": ("and then " * limit)[: 4 * limit]}
    choice["finish_reason"] = "length"
    usage = completion["usage"]
    usage["completion_tokens"] = limit
    usage["total_tokens"] = usage["prompt_tokens"] + limit
    return limit


@web.middleware
async def faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Draw the reply's fault and latency, hold it until the latency has passed since it arrived, and inject the
    fault: ``429``/``500`` replace it, ``timeout`` holds it longer, ``malformed`` breaks its tool-call arguments,
    ``truncated``/``trickle`` are left to :func:`deliver`. Only completions draw (quirk and responder errors do
    not), so a run with the same requests replays the same faults."""
    response = await handler(request)
    if COMPLETION not in response:
        return response
    state = request.config_dict[STATE]
    fault, delay = state.draw()
    await state.hold(request, delay)
    settings = state.faults
    if fault == "timeout":
        await asyncio.sleep(settings.timeout_sleep)
    elif fault == "429":
        headers = {"Retry-After": f"{settings.retry_after:g}"}
        return error_response(429, "injected fault 429", "rate_limit", headers)
    elif fault == "500":
        return error_response(500, "injected fault 500", "server_error")
    elif fault == "malformed":
        _malform(response[COMPLETION]["choices"][0]["message"])
    elif fault is not None:
        response[FAULT] = fault
    return response


def _malform(message: dict[str, Any]) -> None:
    """Cut every tool call's arguments mid-key (no longer JSON), or the content to a third."""
    if message.get("tool_calls"):
        message["tool_calls"] = calls = copy.deepcopy(message["tool_calls"])  # the responder's may be reused
        for call in calls:
            call["function"]["arguments"] = call["function"]["arguments"][:-2] + ', "que'
    elif isinstance(message.get("content"), str):
        message["content"] = message["content"][: max(1, len(message["content"]) // 3)]
