"""Chat calls through the openai SDK's client: one total deadline per attempt (a trickling reply ends on it, on
every HTTP client and through a proxy), one retry layer, a pool sized for the run, TLS verification."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx
from aiohttp import web
from detective_testserver import ChatServer, Faults

from detective.llm import client as llm
from detective.llm.client import EndpointLimits, LLMClient, LLMError
from detective.llm.settings import Settings
from detective.runtime import RunServices
from detective.testing.fakes import completion

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
CLIENTS = list(llm.HTTP_CLIENTS)  # the openai SDK's aiohttp client (the default) and its httpx client


class LoopbackServer:
    """An aiohttp server on 127.0.0.1, in the test's event loop, whose replies the test writes; keep-alive.

    It records each request's target as sent (``POST http://host/path`` when a client speaks to it as a proxy) and
    counts the connections it saw and the most requests it held at once (one per connection).
    """

    def __init__(self, handler: Handler, ssl: ssl_module.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl = ssl
        self.requests: list[str] = []
        self.transports: set[int] = set()
        self.in_flight = 0
        self.most_open = 0

    @property
    def connections(self) -> int:
        """Connections that carried a request."""
        return len(self.transports)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.raw_path}")
        self.transports.add(id(request.transport))
        self.in_flight += 1
        self.most_open = max(self.most_open, self.in_flight)
        try:
            await request.read()
            return await self.handler(request)
        finally:
            self.in_flight -= 1

    async def __aenter__(self) -> LoopbackServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._serve)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.ssl).start()
        self.port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def reply(status: int, body: bytes, **headers: str) -> web.Response:
    """A whole reply."""
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


OK = json.dumps(completion("fine")).encode()


async def trickle(request: web.Request) -> web.StreamResponse:
    """A 200 whose body arrives a byte every 50 ms (a whole reply would take 20 s): every single read is quick."""
    body = OK.ljust(400)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # the client gave up
        for byte in body:
            await response.write(bytes([byte]))
            await asyncio.sleep(0.05)
    return response


def settings_for(url: str, **kwargs: object) -> Settings:
    options = {"api_key": "sk-test", "base_url": url, "backoff": 0.01, "timeout": 0.6, "max_attempts": 2, **kwargs}
    return Settings.from_env(env={}, **options)  # type: ignore[arg-type]


async def ask(settings: Settings, limits: EndpointLimits | None = None) -> llm.ChatReply:
    services = RunServices(settings=settings, limits=limits)
    return await LLMClient(settings.endpoint("planner"), services).chat([{"role": "user", "content": "hi"}])


@pytest.fixture
def http_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Chat calls on the parametrized HTTP client, with no proxy from the environment."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv(llm.HTTP_CLIENT_ENV, request.param)
    return request.param


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
async def test_a_trickling_reply_ends_on_the_deadline_as_a_retryable_timeout(http_client: str) -> None:
    async with LoopbackServer(trickle) as server:
        began = time.monotonic()
        with pytest.raises(LLMError) as info:
            await ask(settings_for(server.url))
        elapsed = time.monotonic() - began
    error = info.value
    assert elapsed < 2 * 0.6 + 1.0  # two attempts of 0.6 s, not the 20 s the reply would take
    assert error.retryable and error.code == llm.TIMEOUT and error.status is None
    assert "planner model" in str(error) and "at 127.0.0.1" in str(error)
    assert "failed after 2 attempt(s): timeout: no complete reply within 0.6 s" in str(error)
    assert len(server.requests) == 2  # our two attempts, no retry of the SDK's on top


async def test_the_trickle_outlives_httpx_s_own_read_timeout() -> None:
    """Why the deadline exists: httpx's timeout bounds each read, and every read of a trickle is quick."""
    async with LoopbackServer(trickle) as server, httpx.AsyncClient(timeout=0.6) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2.0):
                await client.post(server.url + "/chat/completions", content=b"{}")


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
async def test_a_trickle_through_an_environment_proxy_ends_on_the_deadline(
    http_client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loopback server plays the proxy: httpx sends it the absolute URL of an endpoint that does not resolve.
    async with LoopbackServer(trickle) as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        began = time.monotonic()
        with pytest.raises(LLMError, match=r"at llm\.invalid failed after 2 attempt") as info:
            await ask(settings_for("http://llm.invalid/v1"))
        assert time.monotonic() - began < 2 * 0.6 + 1.0
    assert info.value.code == llm.TIMEOUT
    assert proxy.requests and all(r == "POST http://llm.invalid/v1/chat/completions" for r in proxy.requests)


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
async def test_retry_after_is_honoured_once(http_client: str) -> None:
    answers = [reply(429, b'{"error": {"message": "slow down"}}', **{"retry-after": "0.4"}), reply(200, OK)]

    async def handler(request: web.Request) -> web.Response:
        return answers.pop(0)

    async with LoopbackServer(handler) as server:
        began = time.monotonic()
        result = await ask(settings_for(server.url, timeout=5.0, backoff=3.0))
        elapsed = time.monotonic() - began
    assert result.content == "fine" and result.attempts == 2
    assert len(server.requests) == 2
    assert 0.4 <= elapsed < 2.0  # waited what the endpoint asked, not our 3 s backoff, and only once


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
async def test_a_failing_endpoint_sees_exactly_our_attempts(http_client: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        return reply(503, b'{"error": {"message": "overloaded"}}', **{"x-should-retry": "true"})

    async with LoopbackServer(handler) as server:
        with pytest.raises(LLMError, match=r"failed after 3 attempt\(s\): InternalServerError 503") as info:
            await ask(settings_for(server.url, max_attempts=3))
    assert len(server.requests) == 3 and info.value.retryable and info.value.code is None


async def answer_slowly(request: web.Request) -> web.Response:
    await asyncio.sleep(0.2)
    return reply(200, OK)


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
async def test_connections_are_kept_alive_for_the_run_s_concurrent_requests(http_client: str) -> None:
    async with LoopbackServer(answer_slowly) as server:
        settings = settings_for(server.url, timeout=20.0)
        limits = EndpointLimits(max_concurrent=8)
        for _ in range(2):
            replies = await asyncio.gather(*(ask(settings, limits) for _ in range(24)))
            assert all(r.content == "fine" for r in replies)
    assert len(server.requests) == 48
    assert server.connections == 8  # opened once, reused by every later request


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
async def test_the_pool_holds_at_most_its_size(http_client: str) -> None:
    async with LoopbackServer(answer_slowly) as server:
        sdk = llm.sdk_client(settings_for(server.url, timeout=20.0).endpoint("planner"), pool=4)
        await asyncio.gather(*(sdk.post("/chat/completions", body={}, cast_to=httpx.Response) for _ in range(12)))
    assert len(server.requests) == 12 and server.most_open == 4


async def test_one_sdk_client_per_endpoint_and_key() -> None:
    settings = settings_for("https://api.example.com/v1")
    planner, captioner = settings.endpoint("planner"), settings.endpoint("captioner")
    assert llm.sdk_client(planner, 8) is llm.sdk_client(captioner, 8)  # same URL and key
    other = settings.with_role("captioner", api_key="sk-other").endpoint("captioner")
    assert llm.sdk_client(other, 8) is not llm.sdk_client(planner, 8)
    assert llm.sdk_client(planner, 8).max_retries == 0


def test_http_client_choice() -> None:
    assert llm.http_client_kind({}) == "aiohttp"
    assert llm.http_client_kind({llm.HTTP_CLIENT_ENV: " HTTPX "}) == "httpx"
    with pytest.raises(ValueError, match="OMNI_DETECTIVE_HTTP_CLIENT must be one of httpx, aiohttp"):
        llm.http_client_kind({llm.HTTP_CLIENT_ENV: "curl"})


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
async def test_https_is_verified_against_the_trusted_authorities(
    http_client: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    import trustme

    ca = trustme.CA()
    server_ctx = ssl_module.create_default_context(ssl_module.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)

    async def handler(request: web.Request) -> web.Response:
        return reply(200, OK)

    async with LoopbackServer(handler, ssl=server_ctx) as server:
        url = f"https://localhost:{server.port}/v1"
        # the default trust store does not know this authority: refused, and the error says why
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        with pytest.raises(LLMError, match="CERTIFICATE_VERIFY_FAILED"):
            await ask(settings_for(url, max_attempts=1, timeout=5.0))
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        # another timeout, so another client, which reads the environment afresh
        assert (await ask(settings_for(url, max_attempts=1, timeout=6.0))).content == "fine"


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
@respx.mock
async def test_respx_routes_answer_either_client(http_client: str) -> None:
    route = respx.post("https://api.example.com/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=completion("mocked"))
    )
    assert (await ask(settings_for("https://api.example.com/v1"))).content == "mocked"
    assert route.call_count == 1


@pytest.mark.parametrize("http_client", CLIENTS, indirect=True)
async def test_the_test_server_s_trickle_fault_is_cut_and_retried(http_client: str) -> None:
    """Against the shared loopback server: trickled replies (10 s each) end on the 0.6 s deadline and the retry
    that follows gets an answer; no call waits for a trickle to finish."""
    faults = Faults(rate=0.5, kinds=("trickle",), trickle_seconds=10.0)
    with ChatServer(faults=faults, seed=1) as server:
        settings = settings_for(server.url, max_attempts=6)
        began = time.monotonic()
        replies = [await ask(settings) for _ in range(4)]
        elapsed = time.monotonic() - began
        trickled = server.stats.faults.get("trickle", 0)
    assert all(r.content for r in replies)
    assert trickled >= 1 and sum(r.attempts for r in replies) == 4 + trickled
    assert elapsed < 4 + trickled * 0.6 + 3.0
