"""Real endpoints' behaviours on the loopback server (its ``Quirks``), and the online path surviving each."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from detective_testserver import ChatServer, Quirks

from detective.agent.detective import Detective
from detective.llm.client import CONTEXT_LENGTH_EXCEEDED, LLMClient, LLMError
from detective.llm.settings import Settings
from detective.runtime import RunServices
from detective.testing.fakes import ASRTool
from detective.testing.tools import ListenTool

LISTEN = {
    "type": "function",
    "function": {"name": "listen", "parameters": {"type": "object", "properties": {"question": {"type": "string"}}}},
}
AUDIO = {"type": "input_audio", "input_audio": {"data": "data:audio/wav;base64,AAAA", "format": "wav"}}


def settings_for(server: ChatServer, **overrides: object) -> Settings:
    """Every role on ``server``, quick retries."""
    return Settings.from_env(env={}, api_key="sk-test-key", base_url=server.url, backoff=0.01, **overrides)


def post(server: ChatServer, body: dict) -> httpx.Response:
    return httpx.post(server.url + "/chat/completions", json=body, timeout=10.0)


# --- the server's quirks, one by one ------------------------------------------------------------------------


def test_quirk_tools_ignored() -> None:
    with ChatServer(quirks=Quirks(ignore_tools=True)) as server:
        reply = post(server, {"model": "m", "messages": [{"role": "user", "content": "plan"}], "tools": [LISTEN]})
    message = reply.json()["choices"][0]["message"]
    assert reply.status_code == 200 and "tool_calls" not in message and message["content"]


def test_quirk_unknown_content_part_is_a_500() -> None:
    with ChatServer(quirks=Quirks(refuse_parts=frozenset({"input_audio"}))) as server:
        refused = post(server, {"model": "m", "messages": [{"role": "user", "content": [AUDIO]}]})
        text = post(server, {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    assert refused.status_code == 500 and "input_audio" in refused.json()["error"]["message"]
    assert text.status_code == 200


def test_quirk_context_length_exceeded() -> None:
    with ChatServer(quirks=Quirks(context_size=100)) as server:
        short = post(server, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        long = post(server, {"model": "m", "messages": [{"role": "user", "content": "word " * 200}]})
    assert short.status_code == 200
    error = long.json()["error"]
    assert long.status_code == 400 and error["code"] == "context_length_exceeded"
    assert "maximum context length is 100 tokens" in error["message"]


def test_quirk_endless_generation_until_max_tokens() -> None:
    with ChatServer(quirks=Quirks(endless=True, context_size=500)) as server:
        bounded = post(server, {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20})
        unbounded = post(server, {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    choice = bounded.json()["choices"][0]
    assert choice["finish_reason"] == "length" and bounded.json()["usage"]["completion_tokens"] == 20
    assert unbounded.json()["usage"]["completion_tokens"] > 400  # on until the context is full


# --- the client and the pipeline against them ---------------------------------------------------------------


async def test_context_overflow_is_learnt_and_not_retried() -> None:
    with ChatServer(quirks=Quirks(context_size=100)) as server:
        services = RunServices(settings=settings_for(server))
        client = LLMClient(services.settings.endpoint("captioner"), services)
        with pytest.raises(LLMError) as info:
            await client.chat([{"role": "user", "content": "word " * 200}])
        assert server.stats.requests == 1
    assert info.value.code == CONTEXT_LENGTH_EXCEEDED and info.value.context_size == 100
    assert "retrying will not help" in str(info.value)
    assert client.capabilities().context_size == 100
    assert services.usage.models[client.model].failed_calls == 1


async def test_role_max_tokens_bounds_an_endless_model_and_every_attempt_is_counted() -> None:
    quirks = Quirks(endless=True, token_seconds=0.002, endless_tokens=4000)
    with ChatServer(quirks=quirks) as server:
        settings = settings_for(server, timeout=1.0, max_attempts=2)
        services = RunServices(settings=settings.with_role("planner", max_tokens=50))
        client = LLMClient(services.settings.endpoint("planner"), services)
        started = time.monotonic()
        reply = await client.chat([{"role": "user", "content": "go on"}])
        assert reply.truncated and reply.completion_tokens == 50
        assert time.monotonic() - started < 1.0
        # without a limit the same model runs past the timeout: each attempt is counted, the timed-out ones too
        with pytest.raises(LLMError, match="timeout") as timed_out:
            await client.chat([{"role": "user", "content": "go on"}], max_tokens=0)
        assert timed_out.value.retryable
    usage = services.usage.models[client.model]
    assert (usage.calls, usage.failed_calls) == (3, 2)


async def test_tools_ignored_the_planner_switches_to_json_and_observers_run(clip_dir: Path) -> None:
    with ChatServer(quirks=Quirks(ignore_tools=True)) as server:
        det = Detective(tools=[ListenTool()], planner="llm", captioner="chat", settings=settings_for(server))
        first = await det.arun(str(clip_dir / "clip00.wav"))
        second = await det.arun(str(clip_dir / "clip01.wav"))
    assert first.usage.tool_calls.get("listen", 0) >= 1 and second.usage.tool_calls.get("listen", 0) >= 1
    assert not [n for n in first.notes + second.notes if "could not plan" in n]
    assert det.capabilities.get(det.settings.endpoint("planner")).function_calling is False
    # the second clip never offers tools again: its first planner request is already a JSON one
    assert "tool_name" in second.trajectory[0]["content"]


async def test_a_model_that_cannot_take_audio_is_dropped_for_the_run(clip_dir: Path) -> None:
    quirks = Quirks(refuse_parts=frozenset({"input_audio"}))
    with ChatServer(quirks=quirks) as server:
        det = Detective(tools=[ListenTool(), ASRTool()], planner="llm", captioner="chat", settings=settings_for(server))
        first = await det.arun(str(clip_dir / "clip00.wav"))
        refused_after_first = server.stats.by_kind["refused"]
        second = await det.arun(str(clip_dir / "clip01.wav"))
        assert server.stats.by_kind["refused"] == refused_after_first  # never asked again
    assert refused_after_first <= 2
    assert first.usage.tool_calls["asr"] == 1 and second.usage.tool_calls == {"asr": 1}
    reason = "listen is unavailable for this run: observer model qwen3-omni-flash cannot take audio input"
    assert reason in first.notes and reason in second.notes
    assert all(q.tool != "listen" for r in second.rounds for q in r.planned)  # not offered to the planner
    (failure,) = first.evidence.failures  # one clear reason: no path, host or exception name
    assert failure.error.startswith("listen: unavailable for this run: observer model qwen3-omni-flash cannot")
    assert "clip00" not in failure.error and "127.0.0.1" not in failure.error and "Error" not in failure.error


async def test_an_endless_model_still_gets_every_clip_examined(clip_dir: Path) -> None:
    with ChatServer(quirks=Quirks(endless=True)) as server:
        det = Detective(tools=[ListenTool(), ASRTool()], planner="llm", captioner="chat", settings=settings_for(server))
        result = await det.arun(str(clip_dir / "clip00.wav"))
    assert result.usage.tool_calls.get("asr") == 1 and result.usage.tool_calls.get("listen") == 1
    assert any("llm planner could not plan" in n for n in result.notes)
    assert result.caption_markdown
    body_tokens = [m.completion_tokens for m in result.usage.models.values()]
    assert max(body_tokens) <= 4096 * 4  # bounded by the roles' max_tokens, not by the context
