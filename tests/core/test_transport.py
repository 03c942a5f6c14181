"""The lean HTTP/1.1 transport: framing, keep-alive, failures mapped to httpx's exceptions, and when it applies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx
from detective_testserver import ChatServer, Faults

from detective.llm import LLMClient
from detective.settings import Settings
from detective.transport import LeanClient, LeanTransport, lean_applies

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A loopback server whose replies are written byte by byte by the test; counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0

    async def __aenter__(self) -> RawServer:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The request head and body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length)


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


def test_lean_applies_unless_a_proxy_covers_the_url_or_it_is_switched_off() -> None:
    url = "https://api.example.com/v1"
    assert lean_applies(url, env={})
    assert not lean_applies(url, env={"HTTPS_PROXY": "http://proxy:3128"})
    assert not lean_applies(url, env={"ALL_PROXY": "http://proxy:3128"})
    assert lean_applies(url, env={"HTTP_PROXY": "http://proxy:3128"})  # only plain-http traffic is proxied
    assert lean_applies(url, env={"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "example.com"})
    assert lean_applies("http://127.0.0.1:8000/v1", env={"http_proxy": "http://p:1", "no_proxy": "127.0.0.1"})
    assert not lean_applies(url, env={"OMNI_DETECTIVE_HTTP_TRANSPORT": "httpx"})


async def test_requests_reuse_one_keep_alive_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                _, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(ok(json.dumps({"echo": json.loads(body)}).encode()))
            await writer.drain()

    async with RawServer(handler) as server, LeanClient(timeout=5.0) as client:
        for i in range(5):
            response = await client.post(server.url + "/echo", json={"n": i})
            assert response.status_code == 200
            assert response.json() == {"echo": {"n": i}}
        assert server.connections == 1


async def test_chunked_and_close_delimited_bodies_and_informational_replies() -> None:
    replies = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-T: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'{"a": 1}'),
        b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    ]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in replies:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(reply)
            await writer.drain()
            if reply.startswith(b"HTTP/1.0"):
                return

    async with RawServer(handler) as server, LeanClient(timeout=5.0) as client:
        assert (await client.post(server.url, content=b"x")).text == "hello, world"
        assert (await client.post(server.url, content=b"x")).json() == {"a": 1}
        assert (await client.post(server.url, content=b"x")).text == "until the end"


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b"{}"))
        await writer.drain()  # then close: the client's pooled connection goes stale

    async with RawServer(handler) as server, LeanClient(timeout=5.0) as client:
        for _ in range(3):
            assert (await client.post(server.url, content=b"x")).status_code == 200
            await asyncio.sleep(0.05)
        assert server.connections == 3


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (ok(b'{"choices": [1, 2, 3]}')[:-8], "complete message body"),  # the body is cut short
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP reply"),  # not HTTP at all
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunked"),  # bad chunk size
    ],
)
async def test_a_broken_reply_is_a_protocol_error(reply: bytes, message: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(reply)
        await writer.drain()

    async with RawServer(handler) as server, LeanClient(timeout=5.0) as client:
        with pytest.raises(httpx.RemoteProtocolError, match=message):
            await client.post(server.url, content=b"x")


async def test_timeouts_and_refused_connections_raise_httpx_errors() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(2.0)

    async with RawServer(handler) as server, LeanClient(timeout=httpx.Timeout(5.0, read=0.2)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(server.url, content=b"x")
        port = server.url.rsplit(":", 1)[1]
    async with LeanClient(timeout=2.0) as client:
        with pytest.raises(httpx.ConnectError, match=f"127.0.0.1:{port}"):
            await client.post(f"http://127.0.0.1:{port}/", content=b"x")


async def test_a_redirect_is_followed_through_httpx() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head, _ = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            if b" /old " in head.split(b"\r\n")[0]:
                writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n")
            else:
                writer.write(ok(b'{"at": "new"}'))
            await writer.drain()

    async with RawServer(handler) as server, LeanClient(timeout=5.0) as client:
        response = await client.post(server.url + "/old", json={"q": 1})
        assert response.json() == {"at": "new"}
        assert str(response.url).endswith("/new")


async def test_llm_client_over_the_lean_transport_retries_faults() -> None:
    with ChatServer(faults=Faults(rate=0.5, kinds=("truncated", "500", "429")), seed=3) as server:
        settings = Settings.from_env(env={}, api_key="sk-test", base_url=server.url, backoff=0.01)
        replies = [
            await LLMClient(settings.endpoint("captioner")).chat([{"role": "user", "content": "hi"}]) for _ in range(8)
        ]
        assert all(r.content and r.content.startswith("## Storyline") for r in replies)
        assert server.stats.faults  # some calls failed and were retried
        assert server.stats.requests - sum(server.stats.faults.values()) == 8  # each answered exactly once


@respx.mock
async def test_respx_still_sees_requests() -> None:
    route = respx.post("https://api.example.com/v1/chat/completions").mock(
        return_value=httpx.Response(
            200, json={"choices": [{"message": {"role": "assistant", "content": "mocked"}}], "model": "m"}
        )
    )
    settings = Settings.from_env(env={}, api_key="sk-test", base_url="https://api.example.com/v1")
    reply = await LLMClient(settings.endpoint("planner")).chat([{"role": "user", "content": "hi"}])
    assert reply.content == "mocked"
    assert route.called


async def test_transport_rejects_other_schemes() -> None:
    transport = LeanTransport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", "ftp://example.com/x"))
    await transport.aclose()


async def test_a_connection_with_unsolicited_bytes_is_not_reused() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(ok(b'{"n": 1}'))
        await writer.drain()
        await asyncio.sleep(0.05)
        # an idle-timeout reply nobody asked for; the connection stays open
        writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1.0)

    async with RawServer(handler) as server, LeanClient(timeout=5.0) as client:
        assert (await client.post(server.url, content=b"x")).json() == {"n": 1}
        await asyncio.sleep(0.2)
        second = await client.post(server.url, content=b"x")
        assert second.status_code == 200 and second.json() == {"n": 1}  # a fresh connection, not the stale 408
        assert server.connections == 2


async def test_https_is_verified_against_the_trusted_authorities(monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            return  # the client refused our certificate
        writer.write(ok(b'{"tls": true}'))
        await writer.drain()

    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=server_ctx)
    url = f"https://localhost:{server.sockets[0].getsockname()[1]}/v1/chat/completions"
    try:
        trusting = ssl.create_default_context()
        ca.configure_trust(trusting)
        async with httpx.AsyncClient(transport=LeanTransport(verify=trusting)) as client:
            assert (await client.post(url, content=b"x")).json() == {"tls": True}
        # the default trust store (certifi, or SSL_CERT_FILE) does not know this authority: refused
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
        async with LeanClient(timeout=5.0) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.post(url, content=b"x")
    finally:
        server.close()
        await server.wait_closed()


def test_an_environment_proxy_sends_chat_calls_through_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    from detective import llm

    settings = Settings.from_env(env={}, api_key="sk-test", base_url="https://api.example.com/v1")

    async def connection(env: dict[str, str]) -> object:
        for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return llm._client(settings.endpoint("planner"))

    assert asyncio.run(connection({})).lean is not None
    assert asyncio.run(connection({"HTTPS_PROXY": "http://proxy.internal:3128"})).lean is None
