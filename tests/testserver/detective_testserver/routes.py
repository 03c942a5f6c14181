"""The OpenAI-compatible routes (``POST /v1/chat/completions``, ``GET /v1/models``) and the JSON they speak.

The chat handler asks the responder, counts the request and leaves the completion on the response as a dict
(:data:`COMPLETION`): the middleware around it may still delay, break or extend it, and the outermost one
serialises it once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from detective_testserver.state import BODY, COMPLETION, STATE, ServerState


def error_response(
    status: int, message: str, kind: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    """An OpenAI-style error reply."""
    return web.json_response({"error": {"message": message, "type": kind, **extra}}, status=status, headers=headers)


async def body_of(request: web.Request) -> dict[str, Any]:
    """The request's JSON body, parsed once; a body that is not a JSON object is answered 400."""
    if BODY not in request:
        try:
            body = json.loads(await request.read() or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _bad_request(f"invalid JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise _bad_request("the body must be a JSON object")
        request[BODY] = body
    return request[BODY]


def _bad_request(message: str) -> web.HTTPBadRequest:
    error = {"error": {"message": message, "type": "invalid_request_error"}}
    return web.HTTPBadRequest(text=json.dumps(error), content_type="application/json")


async def chat_completions(request: web.Request) -> web.Response:
    """``POST /v1/chat/completions``: the responder's message as a chat completion."""
    state = request.config_dict[STATE]
    body = await body_of(request)
    try:
        kind, message = state.responder(body)
    except Exception as exc:  # a responder bug must reach the client as a 500, not a dropped connection
        state.count(request, "error")
        return error_response(500, f"responder failed: {exc}", "server_error")
    state.count(request, kind, prompt_bytes(body))
    response = web.Response(content_type="application/json")
    response[COMPLETION] = completion(state, body, message)
    return response


async def models(request: web.Request) -> web.Response:
    """``GET /v1/models``: the one model the server plays."""
    model = request.config_dict[STATE].model
    return web.json_response({"object": "list", "data": [{"id": model, "object": "model"}]})


async def not_allowed(request: web.Request) -> web.Response:
    """A method the chat route does not take: a 405 in OpenAI's error format."""
    return error_response(405, f"{request.method} is not allowed on {request.path}; use POST", "invalid_request_error")


async def not_found(request: web.Request) -> web.Response:
    """Any other route: a 404 in OpenAI's error format."""
    return error_response(404, f"no route {request.method} {request.path_qs}", "not_found")


def completion(state: ServerState, body: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` carrying ``message``, with usage counted at 4 bytes a token."""
    tokens = prompt_tokens(body)
    content = message.get("content") or ""
    generated = max(1, (len(content) + len(json.dumps(message.get("tool_calls") or []))) // 4)
    has_calls = bool(message.get("tool_calls"))
    return {
        "id": f"chatcmpl-{state.next_id()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or state.model,
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
        "usage": {"prompt_tokens": tokens, "completion_tokens": generated, "total_tokens": tokens + generated},
    }


def prompt_tokens(body: dict[str, Any]) -> int:
    """The server's token count of a prompt: 4 bytes of the messages' JSON each."""
    return max(1, len(json.dumps(body.get("messages", []))) // 4)


def prompt_bytes(body: dict[str, Any]) -> int:
    """Bytes of a request's prompt as sent: its ``messages`` and ``tools`` (the request body less the rest)."""
    parts = [body.get("messages") or [], body.get("tools") or []]
    return sum(len(json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode()) for p in parts if p)
