"""The LLM layer: retries with backoff and Retry-After, timeouts, usage, cache and key redaction."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from detective.llm import client as llm_module
from detective.llm.settings import Settings
from detective.logs import add_secret, redact
from detective.runtime import RunServices, use_services
from detective.testing.fakes import completion

from .conftest import API_KEY, BASE_URL

URL = f"{BASE_URL}/chat/completions"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry delays instead of sleeping."""
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr(llm_module.asyncio, "sleep", fake_sleep)
    return delays


async def chat(settings: Settings, **kwargs) -> llm_module.ChatReply:
    services = RunServices(settings=settings)
    with use_services(services):
        return await services.llm("planner").chat([{"role": "user", "content": "hi"}], **kwargs)


@respx.mock
async def test_429_then_success_honours_retry_after(settings: Settings, sleeps: list[float]) -> None:
    route = respx.post(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "7"}, json={"error": {"message": "slow down"}}),
            httpx.Response(200, json=completion("ok")),
        ]
    )
    reply = await chat(settings)
    assert reply.content == "ok" and reply.attempts == 2
    assert route.call_count == 2
    assert sleeps == [7.0]


@respx.mock
async def test_retry_after_ms_and_cap(settings: Settings, sleeps: list[float]) -> None:
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(503, headers={"retry-after-ms": "250"}),
            httpx.Response(429, headers={"retry-after": "3600"}),
            httpx.Response(200, json=completion("ok")),
        ]
    )
    await chat(settings)
    assert sleeps == [0.25, settings.endpoint("planner").max_backoff]


@respx.mock
async def test_500_is_retried_a_bounded_number_of_times(settings: Settings, sleeps: list[float]) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(500, json={"error": {"message": "boom"}}))
    with pytest.raises(llm_module.LLMError, match=r"planner model .* at llm\.test failed after 3 attempt\(s\)"):
        await chat(settings)
    assert route.call_count == 3
    assert len(sleeps) == 2


@respx.mock
async def test_exponential_backoff_without_retry_after(sleeps: list[float]) -> None:
    settings = Settings(api_key=API_KEY, base_url=BASE_URL, backoff=1.0, max_attempts=4)
    respx.post(URL).mock(return_value=httpx.Response(502))
    with pytest.raises(llm_module.LLMError):
        await chat(settings)
    assert len(sleeps) == 3
    for i, delay in enumerate(sleeps):
        assert 0.75 * 2**i <= delay <= 1.25 * 2**i


@respx.mock
async def test_client_errors_are_not_retried(settings: Settings, sleeps: list[float]) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(401, json={"error": {"message": "bad key"}}))
    with pytest.raises(llm_module.LLMError) as info:
        await chat(settings)
    assert route.call_count == 1 and info.value.status == 401 and not info.value.retryable


@respx.mock
async def test_timeouts_are_retried_then_reported(settings: Settings, sleeps: list[float]) -> None:
    route = respx.post(URL).mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(llm_module.LLMError, match="APITimeoutError"):
        await chat(settings)
    assert route.call_count == 3


@respx.mock
async def test_truncated_body_is_retried(settings: Settings, sleeps: list[float]) -> None:
    body = json.dumps(completion("ok"))
    respx.post(URL).mock(
        side_effect=[
            httpx.Response(200, content=body[: len(body) // 2].encode(), headers={"content-type": "application/json"}),
            httpx.Response(200, json=completion("ok")),
        ]
    )
    assert (await chat(settings)).content == "ok"


@respx.mock
async def test_usage_is_recorded_per_model(settings: Settings) -> None:
    respx.post(URL).mock(return_value=httpx.Response(200, json=completion("ok", prompt_tokens=11, completion_tokens=4)))
    services = RunServices(settings=settings)
    with use_services(services):
        await services.llm("planner").chat([{"role": "user", "content": "a"}])
        await services.llm("planner").chat([{"role": "user", "content": "b"}])
    usage = services.usage.models[settings.endpoint("planner").model]
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens) == (2, 22, 8)


class DictCache:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], object] = {}

    def get(self, namespace: str, key: str):
        return self.data.get((namespace, key))

    def put(self, namespace: str, key: str, value: object) -> None:
        self.data[(namespace, key)] = value


@respx.mock
async def test_cache_serves_repeated_requests(settings: Settings) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=completion("ok")))
    services = RunServices(settings=settings, cache=DictCache())
    with use_services(services):
        first = await services.llm("planner").chat([{"role": "user", "content": "a"}])
        second = await services.llm("planner").chat([{"role": "user", "content": "a"}])
    assert route.call_count == 1
    assert second.cached and second.content == first.content
    assert services.usage.llm_calls == 1


@respx.mock
async def test_api_key_never_appears_in_errors_or_logs(settings: Settings, sleeps: list[float]) -> None:
    add_secret(API_KEY)
    respx.post(URL).mock(return_value=httpx.Response(400, json={"error": {"message": f"invalid key {API_KEY}"}}))
    with pytest.raises(llm_module.LLMError) as info:
        await chat(settings)
    assert API_KEY not in str(info.value)
    assert "***" in str(info.value)
    assert API_KEY not in redact(f"Authorization: Bearer {API_KEY}")
    assert API_KEY not in repr(settings) and API_KEY not in settings.model_dump_json()


async def test_no_key_is_a_clear_error() -> None:
    with pytest.raises(llm_module.LLMError, match="no API key; set OPENAI_API_KEY"):
        await chat(Settings(api_key=None, base_url=BASE_URL))


def test_per_role_overrides_from_environment() -> None:
    env = {
        "OPENAI_API_KEY": "sk-shared-aaaaaaaa",
        "OPENAI_BASE_URL": "https://shared.test/v1",
        "OMNI_DETECTIVE_JUDGE_MODEL": "judge-model",
        "OMNI_DETECTIVE_JUDGE_BASE_URL": "https://judge.test/v1",
        "OMNI_DETECTIVE_OBSERVER_API_KEY": "sk-observer-bbbbbbbb",
    }
    s = Settings.from_env(env)
    assert s.endpoint("judge").model == "judge-model" and s.endpoint("judge").host == "judge.test"
    assert s.endpoint("planner").host == "shared.test"
    assert s.endpoint("observer").api_key.get_secret_value() == "sk-observer-bbbbbbbb"
    assert s.endpoint("vision").api_key.get_secret_value() == "sk-observer-bbbbbbbb"  # vision falls back to observer
    assert s.endpoint("observer").model == "qwen3-omni-flash"
    assert not Settings.from_env(env, offline=True).online("planner")


def test_max_tokens_and_context_size_per_role() -> None:
    env = {
        "OPENAI_API_KEY": "sk-shared-aaaaaaaa",
        "OMNI_DETECTIVE_PLANNER_MAX_TOKENS": "256",
        "OMNI_DETECTIVE_OBSERVER_CONTEXT_SIZE": "4096",
        "OMNI_DETECTIVE_MAX_ATTEMPTS": "3",
    }
    s = Settings.from_env(env)
    assert s.endpoint("planner").max_tokens == 256 and s.endpoint("planner").context_size is None
    assert s.endpoint("captioner").max_tokens == 4096 and s.endpoint("judge").max_tokens == 1024
    assert s.endpoint("observer").context_size == 4096 and s.endpoint("vision").context_size == 4096
    assert s.endpoint("my_plugin_role").max_tokens == 2048
    assert s.max_attempts == 3 and "max" not in s.roles  # a shared setting is not read as a role
    assert s.with_role("planner", max_tokens=64, context_size=None).endpoint("planner").max_tokens == 64
    with pytest.raises(ValueError, match="OMNI_DETECTIVE_JUDGE_MAX_TOKENS must be a whole number"):
        Settings.from_env({"OMNI_DETECTIVE_JUDGE_MAX_TOKENS": "lots"})


@respx.mock
async def test_role_max_tokens_is_sent_unless_the_call_sets_its_own(settings: Settings) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=completion("ok")))
    services = RunServices(settings=settings.with_role("planner", max_tokens=77))
    client = llm_module.LLMClient(services.settings.endpoint("planner"), services)
    await client.chat([{"role": "user", "content": "hi"}])
    await client.chat([{"role": "user", "content": "hi"}], max_tokens=5)
    await client.chat([{"role": "user", "content": "hi"}], max_tokens=0)
    sent = [json.loads(c.request.content).get("max_tokens") for c in route.calls]
    assert sent == [77, 5, None]


@respx.mock
async def test_a_call_sends_what_the_sdk_client_would_build(settings: Settings) -> None:
    """The chat POST skips the HTTP client's auth, redirect and cookie flows, not its headers: the key, the
    SDK's user agent and platform headers, once each, exactly as the SDK's client builds the request."""
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=completion("ok")))
    reply = await chat(settings)
    assert reply.content == "ok"
    sent = route.calls.last.request
    services = RunServices(settings=settings)
    with use_services(services):
        sdk = llm_module.sdk_client(services.llm("planner").endpoint, None)
    own = {k: v for k, v in {**sdk.default_headers, **sdk.auth_headers}.items() if isinstance(v, str)}
    built = sdk._client.build_request("POST", URL, content=sent.content, headers=own)
    assert sorted(sent.headers.multi_items()) == sorted(built.headers.multi_items())
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert sent.extensions["timeout"] == built.extensions["timeout"]


@respx.mock
async def test_a_redirect_is_followed_as_the_sdk_client_would(settings: Settings) -> None:
    moved = URL.replace("/chat/completions", "/moved/chat/completions")
    first = respx.post(URL).mock(return_value=httpx.Response(307, headers={"location": moved}))
    second = respx.post(moved).mock(return_value=httpx.Response(200, json=completion("moved ok")))
    reply = await chat(settings)
    assert reply.content == "moved ok"
    assert second.call_count == 1 and json.loads(second.calls.last.request.content)["messages"]
    assert first.call_count == 2  # once on the transport, once more through the client's redirect flow
