"""The aiohttp application and :class:`ChatServer`, which runs it on 127.0.0.1 from an event loop in a daemon
thread (hundreds of concurrent connections cost no threads, and a reply's delay is a timer)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

from detective_testserver import middleware, routes
from detective_testserver.state import CHAT, STATE, ServerState

#: Request bodies carry base64 media: far above aiohttp's 1 MiB default.
MAX_BODY = 512 * 1024 * 1024
CHAT_PATH = "/v1/chat/completions"


def make_app(state: ServerState) -> web.Application:
    """The OpenAI-compatible application: the chat route inside its middleware, ``/v1/models``, JSON 404s.

    The middleware sees every route but acts only on chat requests (they carry a kind and a completion); one
    application rather than a sub-application for the chat route saves a route resolution per request."""
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[middleware.count, middleware.deliver, middleware.quirks, middleware.faults],
    )
    app[STATE] = state
    app.router.add_post(CHAT_PATH, routes.chat_completions, name=CHAT)
    app.router.add_route("*", CHAT_PATH, routes.not_allowed)
    app.router.add_get("/v1/models", routes.models)
    app.router.add_route("*", "/{tail:.*}", routes.not_found)
    return app


async def _shut(runner: web.AppRunner) -> None:
    """Close the site and connections, then cancel the replies still held (a ``timeout`` fault, a trickle)."""
    await runner.cleanup()
    held = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in held:
        task.cancel()
    await asyncio.gather(*held, return_exceptions=True)


class AppServer:
    """Any aiohttp application served on 127.0.0.1 (a free port) from an event loop in a daemon thread.

    Use as a context manager; ``port`` and ``base`` (``http://127.0.0.1:PORT``) are set while it runs. Tests use it
    for one-off endpoints (a download that trickles, a proxy that stalls) next to :class:`ChatServer`.
    """

    #: Seconds ``stop()`` lets replies in flight finish before it drops them.
    shutdown_timeout = 0.2

    def __init__(self, app: web.Application | None = None) -> None:
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    def make_app(self) -> web.Application:
        """The application to serve (the one given to the constructor)."""
        if self._app is None:
            raise RuntimeError("AppServer needs an application")
        return self._app

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._runner is None:
            raise RuntimeError(f"{type(self).__name__} is not running: use it as a context manager or call start()")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        """Bind to a free port on 127.0.0.1 and serve from an event loop in a daemon thread."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        name = f"omni-detective-{type(self).__name__}"
        self._thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._runner = asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=10)
        return self

    async def _serve(self) -> web.AppRunner:
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        # a deep backlog: many clips connect at once, and the default drops SYNs under a burst
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self.port = runner.addresses[0][1]
        return runner

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port."""
        loop, runner, thread = self._loop, self._runner, self._thread
        self._runner = self._thread = self._loop = None
        if loop is None:
            return
        try:
            if runner is not None:
                asyncio.run_coroutine_threadsafe(_shut(runner), loop).result(timeout=10 + self.shutdown_timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(timeout=5)
            if not loop.is_running():
                loop.close()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ChatServer(AppServer, ServerState):
    """The loopback server. Use as a context manager; ``url`` is the OpenAI ``base_url`` (ends in ``/v1``).

    :param latency: seconds to hold every reply, ``(low, high)`` for a uniform draw, a
        :class:`~detective_testserver.LogNormal`, or any function of a :class:`random.Random` giving seconds.
    :param faults: fault injection (none by default).
    :param seed: seed of the generator that draws faults and latencies.
    :param responder: what to answer; :class:`~detective_testserver.ScriptedDetective` by default.
    :param model: the model id reported in replies when the request names none.
    :param quirks: how it departs from the API like a real small model's endpoint (none by default).

    ``latency``, ``faults``, ``quirks`` and ``responder`` may be changed while it runs; each request reads them
    when it arrives.
    """

    def __init__(self, **settings: Any) -> None:
        ServerState.__init__(self, **settings)
        AppServer.__init__(self)

    def make_app(self) -> web.Application:
        """The OpenAI-compatible application on this server's state."""
        return make_app(self)

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client."""
        return f"{self.base}/v1"

    def start(self) -> ChatServer:
        """Bind to a free port on 127.0.0.1 and serve from an event loop in a daemon thread."""
        super().start()
        return self

    def __enter__(self) -> ChatServer:
        return self.start()
