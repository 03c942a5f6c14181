"""The aiohttp application and :class:`ChatServer`, which runs it on 127.0.0.1 from an event loop in a daemon
thread (hundreds of concurrent connections cost no threads, and a reply's delay is a timer)."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from detective_testserver import middleware, routes
from detective_testserver.state import STATE, ServerState

#: Request bodies carry base64 media: far above aiohttp's 1 MiB default.
MAX_BODY = 512 * 1024 * 1024


def make_app(state: ServerState) -> web.Application:
    """The OpenAI-compatible application: the chat route inside its middleware, ``/v1/models``, JSON 404s."""
    chat = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[middleware.count, middleware.deliver, middleware.quirks, middleware.faults],
    )
    chat.router.add_post("/completions", routes.chat_completions)
    chat.router.add_route("*", "/completions", routes.not_allowed)
    app = web.Application(client_max_size=MAX_BODY)
    app[STATE] = state
    app.add_subapp("/v1/chat", chat)
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


class ChatServer(ServerState):
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

    #: Seconds ``stop()`` lets replies in flight finish before it drops them.
    shutdown_timeout = 0.2

    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    _port = 0

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client."""
        if self._runner is None:
            raise RuntimeError("ChatServer is not running: use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._port}/v1"

    def start(self) -> ChatServer:
        """Bind to a free port on 127.0.0.1 and serve from an event loop in a daemon thread."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="omni-detective-chat-server", daemon=True)
        self._thread.start()
        self._runner = asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=10)
        return self

    async def _serve(self) -> web.AppRunner:
        runner = web.AppRunner(make_app(self), access_log=None, shutdown_timeout=self.shutdown_timeout)
        await runner.setup()
        # a deep backlog: many clips connect at once, and the default drops SYNs under a burst
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self._port = runner.addresses[0][1]
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

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
