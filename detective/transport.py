"""A lean HTTP/1.1 transport for httpx, for the many small JSON calls of a batch run.

httpx's default transport (httpcore over anyio over asyncio) spends about a millisecond of CPU per request on
layers a chat call does not need, and its connection pool scans every connection for every request. At 50 clips
in flight that overhead, not the endpoint, bounds throughput on a small machine. :class:`LeanTransport` speaks
HTTP/1.1 directly on asyncio streams:

- one write per request (head and body together) and one keep-alive connection pool per origin, taken and
  returned in O(1);
- bodies read whole (``Content-Length``, chunked, or until close): chat replies are small and never streamed here,
  so the read timeout bounds the whole reply, not each read;
- httpx's exceptions (``ConnectTimeout``, ``ReadTimeout``, ``ConnectError``, ``RemoteProtocolError`` ...), so the
  openai SDK maps failures exactly as with its default client;
- a pooled connection that the server closed while idle is detected before reuse, and a request whose reused
  connection fails before any reply byte arrives is sent once more on a fresh connection.

:class:`LeanClient` is the ``httpx.AsyncClient`` to hand the openai SDK: its plain sends go straight to the
transport. It is used only where it is a drop-in: :func:`lean_applies` says no when an environment proxy covers
the URL or when ``OMNI_DETECTIVE_HTTP_TRANSPORT=httpx``, and requests take httpx's own transport while a test
double (respx) patches httpcore.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
import urllib.request
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

#: The environment variable that picks the transport: ``lean`` (default) or ``httpx``.
TRANSPORT_ENV = "OMNI_DETECTIVE_HTTP_TRANSPORT"

_POOL_ORIGINAL = httpcore.AsyncConnectionPool.handle_async_request
_MAX_HEAD = 64 * 1024


def lean_applies(url: str, env: dict[str, str] | None = None) -> bool:
    """Whether :class:`LeanTransport` can serve ``url``: not switched off, and no environment proxy covers it."""
    env = os.environ if env is None else env
    if env.get(TRANSPORT_ENV, "lean").strip().lower() == "httpx":
        return False
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        return False
    proxies = {
        key[:-6].lower(): value
        for key, value in env.items()
        if key.lower().endswith("_proxy") and value and key.lower() != "no_proxy"
    }
    if parts.scheme not in proxies and "all" not in proxies:
        return True
    no_proxy = env.get("no_proxy") or env.get("NO_PROXY") or ""
    return bool(urllib.request.proxy_bypass_environment(parts.hostname or "", {"no": no_proxy}))


def _httpcore_patched() -> bool:
    """True while something (respx's default mocker) has replaced httpcore's pool entry point."""
    return httpcore.AsyncConnectionPool.handle_async_request is not _POOL_ORIGINAL


class _Connection:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float, expiry: float) -> bool:
        # Bytes waiting on an idle connection (a server's "408 Request Timeout" before it hangs up, say) would be
        # read as the reply to the next request: such a connection is not reused.
        unread = len(getattr(self.reader, "_buffer", b""))
        return (
            not unread and not self.reader.at_eof() and not self.writer.is_closing() and now - self.idle_since < expiry
        )

    def close(self) -> None:
        with suppress(Exception):
            self.writer.close()


class _Stale(Exception):
    """A reused connection failed before any reply byte arrived: safe to send again on a fresh one."""


class LeanTransport(httpx.AsyncBaseTransport):
    """An httpx async transport speaking HTTP/1.1 on asyncio streams with a keep-alive pool per origin.

    :param verify: TLS verification as httpx takes it (``True``, ``False`` or an ``ssl.SSLContext``).
    :param max_idle: idle connections kept per origin.
    :param keepalive_expiry: seconds an idle connection is kept before it is closed instead of reused.
    """

    def __init__(self, *, verify: ssl.SSLContext | bool = True, max_idle: int = 256, keepalive_expiry: float = 5.0):
        self._verify = verify
        self._ssl: ssl.SSLContext | None = verify if isinstance(verify, ssl.SSLContext) else None
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._fallback: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the whole response."""
        if _httpcore_patched():
            if self._fallback is None:
                self._fallback = httpx.AsyncHTTPTransport(verify=self._verify)
            return await self._fallback.handle_async_request(request)
        url = request.url
        scheme = url.scheme
        if scheme not in {"http", "https"}:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        origin = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        timeouts = request.extensions.get("timeout") or {}
        body = await request.aread()
        head = self._head(request, len(body))
        payload = head + body if len(body) < 1 << 20 else None
        for _ in range(2):
            conn, reused = await self._acquire(origin, request, timeouts.get("connect"))
            try:
                status, reason, headers, content, keep = await self._exchange(
                    conn, request, head, body, payload, timeouts, reused
                )
            except _Stale:
                conn.close()
                continue
            except BaseException:
                conn.close()
                raise
            if keep:
                self._release(origin, conn)
            else:
                conn.close()
            return httpx.Response(
                status,
                headers=headers,
                stream=httpx.ByteStream(content),
                request=request,
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
            )
        raise httpx.RemoteProtocolError("server closed the connection without a reply", request=request)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        if self._fallback is not None:
            await self._fallback.aclose()

    # --- connections ------------------------------------------------------------------------------------------

    async def _acquire(
        self, origin: tuple[str, str, int], request: httpx.Request, timeout: float | None
    ) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now, self._expiry):
                return conn, True
            conn.close()
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context(verify=self._verify)
            context = self._ssl
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if context else None, limit=_MAX_HEAD
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out", request=request) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}", request=request) from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(reader, writer), False

    def _release(self, origin: tuple[str, str, int], conn: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= self._max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    # --- one exchange -----------------------------------------------------------------------------------------

    @staticmethod
    def _head(request: httpx.Request, length: int) -> bytes:
        lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
        has_length = False
        for name, value in request.headers.raw:
            lower = name.lower()
            if lower == b"content-length":
                has_length = True
            elif lower == b"transfer-encoding":
                continue  # the body is sent whole, with a Content-Length
            lines.append(name + b": " + value)
        if not has_length and (length or request.method in {"POST", "PUT", "PATCH"}):
            lines.append(b"Content-Length: %d" % length)
        return b"\r\n".join(lines) + b"\r\n\r\n"

    async def _exchange(
        self,
        conn: _Connection,
        request: httpx.Request,
        head: bytes,
        body: bytes,
        payload: bytes | None,
        timeouts: dict[str, float | None],
        reused: bool,
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes, bool]:
        writer, reader = conn.writer, conn.reader
        try:
            async with asyncio.timeout(timeouts.get("write")):
                if payload is not None:
                    writer.write(payload)
                else:
                    writer.write(head)
                    writer.write(body)
                await writer.drain()
        except TimeoutError as exc:
            raise httpx.WriteTimeout("sending the request timed out", request=request) from exc
        except OSError as exc:
            if reused:
                raise _Stale from exc
            raise httpx.WriteError(f"sending the request failed: {exc}", request=request) from exc
        try:
            async with asyncio.timeout(timeouts.get("read")):
                while True:
                    try:
                        raw_head = await reader.readuntil(b"\r\n\r\n")
                    except asyncio.IncompleteReadError as exc:
                        if reused and not exc.partial:
                            raise _Stale from exc
                        raise httpx.RemoteProtocolError(
                            "server disconnected without sending a complete reply", request=request
                        ) from exc
                    except ConnectionError as exc:
                        if reused:
                            raise _Stale from exc
                        raise
                    except asyncio.LimitOverrunError as exc:
                        raise httpx.RemoteProtocolError("reply headers are too large", request=request) from exc
                    version, status, reason, headers = _parse_head(raw_head, request)
                    if not 100 <= status < 200 or status == 101:
                        break
                content, keep = await self._read_body(reader, request, status, headers)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("reading the reply timed out", request=request) from exc
        except ConnectionError as exc:
            raise httpx.ReadError(f"reading the reply failed: {exc}", request=request) from exc
        keep = keep and version == b"HTTP/1.1" and not _has_token(headers, b"connection", b"close")
        return status, reason, headers, content, keep

    @staticmethod
    async def _read_body(
        reader: asyncio.StreamReader, request: httpx.Request, status: int, headers: list[tuple[bytes, bytes]]
    ) -> tuple[bytes, bool]:
        if request.method == "HEAD" or status in {204, 304}:
            return b"", True
        if _has_token(headers, b"transfer-encoding", b"chunked"):
            chunks = []
            try:
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                    if size == 0:
                        line = await reader.readuntil(b"\r\n")
                        while line != b"\r\n":  # trailer fields, not kept
                            line = await reader.readuntil(b"\r\n")
                        return b"".join(chunks), True
                    chunks.append(await reader.readexactly(size))
                    await reader.readexactly(2)
            except (asyncio.IncompleteReadError, ValueError) as exc:
                raise httpx.RemoteProtocolError("malformed or incomplete chunked reply", request=request) from exc
        length = _header(headers, b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError as exc:
                raise httpx.RemoteProtocolError(f"bad Content-Length {length!r}", request=request) from exc
            try:
                return await reader.readexactly(n), True
            except asyncio.IncompleteReadError as exc:
                raise httpx.RemoteProtocolError(
                    f"peer closed connection without sending complete message body "
                    f"(received {len(exc.partial)} bytes, expected {n})",
                    request=request,
                ) from exc
        return await reader.read(), False


class LeanClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` on a :class:`LeanTransport` whose plain sends skip httpx's per-request machinery.

    A request with no auth flow, no event hooks and no cookies to send goes straight to the transport; the body
    is read whole. Everything else (streaming, auth, hooks, a redirect reply, a test double patching httpcore)
    takes httpx's normal path, so behaviour matches the default client. Cookies set by the server are not
    kept on the fast path: chat endpoints are stateless.
    """

    def __init__(self, *, timeout: float | httpx.Timeout, **kwargs: Any) -> None:
        super().__init__(transport=LeanTransport(), timeout=timeout, follow_redirects=True, **kwargs)

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        """Send ``request``; see :class:`LeanClient` for when the fast path applies."""
        if (
            stream
            or auth is not httpx.USE_CLIENT_DEFAULT
            or self.auth is not None
            or self.event_hooks["request"]
            or self.event_hooks["response"]
            or self.cookies
            or self.is_closed
            or _httpcore_patched()
        ):
            return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        request.extensions.setdefault("timeout", self.timeout.as_dict())
        response = await self._transport.handle_async_request(request)
        response.request = request
        if response.has_redirect_location:
            await response.aclose()
            return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        await response.aread()
        return response


def _parse_head(raw: bytes, request: httpx.Request) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    lines = raw[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise httpx.RemoteProtocolError(f"not an HTTP reply: {lines[0][:80]!r}", request=request)
    try:
        status = int(parts[1])
    except ValueError as exc:
        raise httpx.RemoteProtocolError(f"bad status line {lines[0][:80]!r}", request=request) from exc
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise httpx.RemoteProtocolError(f"bad header line {line[:80]!r}", request=request)
        headers.append((name.strip(), value.strip()))
    reason = parts[2] if len(parts) > 2 else b""
    return parts[0], status, reason, headers


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _has_token(headers: list[tuple[bytes, bytes]], name: bytes, token: bytes) -> bool:
    value = _header(headers, name)
    return value is not None and token in [t.strip().lower() for t in value.split(b",")]
