"""The Python API: ``Detective(tools=[...]).run(path_or_url) -> RunResult``, and its live view ``stream()``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import importlib.metadata
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import structlog
from langchain_core.runnables import RunnableConfig

from detective.agent.config import DetectiveConfig, Toolbox, object_name, resolve_toolbox
from detective.agent.events import DetectiveEvent, Finished, events_of
from detective.agent.graph import SERVICES_KEY, end_warmups, graph, needs_local_copy
from detective.llm.capabilities import CapabilityStore
from detective.llm.settings import Settings
from detective.logs import add_secret
from detective.models import Evidence, MediaInfo, Provenance, RunResult
from detective.plugins import get_registry
from detective.runtime import Cache, RunServices
from detective.tools import as_tool, check_tool_name

log = structlog.get_logger("detective")


class Detective:
    """Interrogates independent observers about a clip and writes a detailed caption.

    Every option of a run is a field of :class:`~detective.agent.config.DetectiveConfig` (the single home of the
    defaults): pass a ``config``, or its fields as keyword arguments (``max_rounds=3``, ``budget=Budget(...)``,
    ``mode="direct"``, ``max_concurrency``, ``max_queries_per_round``, ``observer_timeout``,
    ``download_timeout``, ``captioner_options``, ``offline``), or both (the keywords win).

    :param tools: registered tool names, or Tool objects, langchain-core ``BaseTool`` instances or functions
        (registered for this Detective's runs under their names). ``None`` takes every registered tool; tools that
        call a remote model join only when online.
    :param planner: a registered planner name, or a Planner object; ``None``: ``hybrid`` when online, else ``rule``.
    :param captioner: a registered captioner name, or a Captioner object; ``None``: ``llm`` when online, else
        ``template`` (``direct`` in direct mode).
    :param config: the configuration; keyword arguments override its fields.
    :param settings: endpoints and models; ``Settings.from_env()`` by default.
    :param cache: a persistent cache for observer results and LLM replies (a run-time service).
    :param limits: per-endpoint request limits shared across clips (``detective.llm.client.EndpointLimits``).
    """

    def __init__(
        self,
        tools: Iterable[Any] | None = None,
        planner: Any = None,
        captioner: Any = None,
        *,
        config: DetectiveConfig | None = None,
        settings: Settings | None = None,
        cache: Cache | None = None,
        limits: Any = None,
        **options: Any,
    ) -> None:
        base = (config or DetectiveConfig()).model_dump()
        given = {k: v for k, v in options.items() if v is not None}
        objects: dict[str, dict[str, Any]] = {"tools": {}, "planners": {}, "captioners": {}}
        if tools is not None:
            names = []
            for t in tools:
                if isinstance(t, str):
                    names.append(t)
                else:
                    tool = as_tool(t)
                    check_tool_name(tool.name, f"the tool {t!r}")
                    objects["tools"][tool.name] = tool
                    names.append(tool.name)
            given["tools"] = names
        for kind, key, value in (("planners", "planner", planner), ("captioners", "captioner", captioner)):
            if value is None:
                continue
            if not isinstance(value, str):
                objects[kind][object_name(value)] = value
                value = object_name(value)
            given[key] = value
        #: The run's configuration: plain values (``detective.agent.config.DetectiveConfig``).
        self.config = DetectiveConfig.model_validate({**base, **given})
        self.settings = self.config.settings(settings)
        for secret in self.settings.secrets():
            add_secret(secret)
        self.registry = get_registry()
        self.cache = cache
        #: What each endpoint's model can do, learnt once for all the clips this Detective runs (and cached).
        self.capabilities = CapabilityStore(cache)
        self.limits = limits
        self._objects = objects
        self.toolbox: Toolbox = resolve_toolbox(self.config, self.settings, objects)
        captioner_role = getattr(self.toolbox.captioner, "role", "direct")
        if self.config.mode == "direct" and getattr(self.toolbox.captioner, "needs_api", False):
            if self.settings.offline:
                raise ValueError(
                    "direct mode sends the clip to an omni model, so it cannot run offline: "
                    "drop --offline (offline=True), or use the detective mode, whose local observers work offline"
                )
            if not self.settings.online(captioner_role):
                raise ValueError(
                    f"direct mode needs an API key for its omni model (role {captioner_role!r}): set OPENAI_API_KEY "
                    f"or OMNI_DETECTIVE_{captioner_role.upper()}_API_KEY, or use the detective mode (works offline)"
                )
            unserved = self.settings.unserved_default(captioner_role)
            if unserved:
                raise ValueError(f"direct mode cannot start: {unserved}")
        self._provenance: Provenance | None = None

    # --- configuration (read-only views of the resolved tool box) ---------------------------------------

    @property
    def mode(self) -> str:
        """``detective`` or ``direct``."""
        return self.config.mode

    @property
    def tools(self) -> dict[str, Any]:
        """The tool box by name."""
        return self.toolbox.tools

    @property
    def planner(self) -> Any:
        """The planner object."""
        return self.toolbox.planner

    @property
    def captioner(self) -> Any:
        """The captioner object."""
        return self.toolbox.captioner

    def provenance(self) -> Provenance:
        """Versions, tools, models, endpoint hosts and prompt hashes of this configuration (a fresh copy)."""
        if self._provenance is None:
            self._provenance = self._build_provenance()
        return self._provenance.model_copy(deep=True)

    def _build_provenance(self) -> Provenance:
        models: dict[str, str] = {}
        endpoints: dict[str, str] = {}
        roles = set()
        if getattr(self.planner, "needs_api", False):
            roles.add(getattr(self.planner, "role", "planner"))
        if getattr(self.captioner, "needs_api", False):
            roles.add("direct" if self.mode == "direct" else "captioner")
        roles |= {t.role for t in self.tools.values() if t.needs_api}
        for role in sorted(roles):
            ep = self.settings.endpoint(role)
            models[role] = ep.model
            endpoints[role] = ep.host
        hashes = {}
        if getattr(self.planner, "prompt_hash", None):
            hashes["planner"] = str(self.planner.prompt_hash)
        return Provenance(
            package_version=_version("omni-detective"),
            tools={t.name: t.version for t in self.tools.values()},
            planner=object_name(self.planner),
            captioner=object_name(self.captioner),
            models=models,
            endpoints=endpoints,
            prompt_hashes=hashes,
            plugins={r.plugin: _plugin_version(r.plugin) for r in self.registry.tools.values()},
        )

    # --- running ----------------------------------------------------------------------------------------

    def run(self, source: str, **kwargs: Any) -> RunResult:
        """Investigate one clip (path or URL) and return its RunResult. Blocks; see :meth:`arun`.

        Inside a running event loop (a Jupyter cell), the run goes to a worker thread with its own loop;
        ``await detective.arun(...)`` is the better call there.
        """
        return _blocking(self.arun(source, **kwargs))

    async def arun(self, source: str, *, clip: str | None = None, media: MediaInfo | None = None) -> RunResult:
        """Investigate one clip. Raises ``MediaError`` for unusable media, ``NoEvidenceError`` when no observer could
        examine a modality of the clip; a failing planner falls back to the rule planner instead of raising."""
        # The result alone: LangGraph's ``values`` only (``ainvoke``), so the nodes' events are not streamed (their
        # stream writer is a no-op) and no contradiction events are built; the same run as :meth:`astream`'s.
        media, opened = await self._media(source, media)
        services, run_config = self._services(source, clip)
        try:
            final = await graph.ainvoke({"media": media}, context=self.config, config=run_config)
            return self._result(media, final, services)
        finally:
            await self._end(services, media, opened)

    async def astream(
        self, source: str, *, clip: str | None = None, media: MediaInfo | None = None
    ) -> AsyncIterator[DetectiveEvent]:
        """Investigate one clip and yield what happens as it happens: ``RoundPlanned``, ``Observed``,
        ``ContradictionFound``, ``Captioned``, and last ``Finished`` with the RunResult.

        Built on LangGraph's ``astream`` (``custom`` and ``values`` modes) over the same graph as :meth:`arun`.
        """
        media, opened = await self._media(source, media)
        services, run_config = self._services(source, clip)
        final: dict[str, Any] = {}
        try:
            chunks = graph.astream(
                {"media": media}, context=self.config, config=run_config, stream_mode=["custom", "values"]
            )
            # closed here, in order, when the caller stops early: not left to the loop's shutdown
            async with contextlib.aclosing(chunks), contextlib.aclosing(events_of(chunks, final)) as events:
                async for event in events:
                    yield event
            yield Finished(result=self._result(media, final, services))
        finally:
            await self._end(services, media, opened)

    async def open_media(self, source: str) -> MediaInfo:
        """Open ``source`` as a run of this Detective would: probed, and downloaded when a URL and not every tool
        reads the URL itself. Raises ``MediaError`` for unusable media. Give the result to :meth:`arun` as
        ``media`` (a batch opens clips ahead of their turn so); a download it made is then the caller's to remove
        (:func:`~detective.media.discard_download`)."""
        from detective.media import aopen_media

        return await aopen_media(
            source, download_timeout=self.config.download_timeout, download=needs_local_copy(self.toolbox)
        )

    async def _media(self, source: str, media: MediaInfo | None) -> tuple[MediaInfo, bool]:
        """The clip's probed media (opened here unless given) and whether this run opened it."""
        if media is not None:
            return media, False
        return await self.open_media(source), True

    def _services(self, source: str, clip: str | None) -> tuple[RunServices, RunnableConfig]:
        """A run's services and its LangGraph run config, with the clip bound to the log context.

        The configuration travels as LangGraph's runtime context (what every node reads); the services travel in
        the run config, not in a context variable set around the run: a caller that breaks out of
        :meth:`astream`'s ``async for`` leaves the generator to be closed later in another context, where resetting
        such a variable fails ("Token … was created in a different Context").
        """
        structlog.contextvars.bind_contextvars(clip=clip or source)
        services = RunServices(
            settings=self.settings,
            cache=self.cache,
            limits=self.limits,
            clip=clip or source,
            toolbox=self.toolbox,
            capabilities=self.capabilities,
        )
        run_config = self.config.run_config()
        run_config["configurable"] = {SERVICES_KEY: services}
        return services, run_config

    async def _end(self, services: RunServices, media: MediaInfo, opened: bool) -> None:
        """End a run: its warm-ups cancelled, the log context unbound, a download this run made removed."""
        from detective.media import discard_download

        await end_warmups(services)
        structlog.contextvars.unbind_contextvars("clip", "round", "tool")
        if opened:
            discard_download(media)

    def stream(self, source: str, **kwargs: Any) -> Iterator[DetectiveEvent]:
        """:meth:`astream` for synchronous code: yields each event as it happens (the run goes on in a thread)."""
        return _blocking_iter(self.astream(source, **kwargs))

    def _result(self, media: MediaInfo, state: dict[str, Any], services: RunServices) -> RunResult:
        provenance = self.provenance()
        if state.get("caption_prompt_hash"):
            provenance.prompt_hashes["captioner"] = state["caption_prompt_hash"]
        return RunResult(
            media=media,
            caption=state["caption"],
            caption_markdown=state["caption_markdown"],
            evidence=state.get("evidence") or Evidence(),
            trajectory=state.get("trajectory", []),
            rounds=state.get("rounds", []),
            stop_reason=state.get("stop_reason", ""),
            usage=services.usage,
            provenance=provenance,
            notes=list(state.get("notes", [])),
            grounding=state.get("grounding"),
        )


def _running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _blocking(coro: Any) -> Any:
    """Run ``coro`` to completion; inside a running loop (Jupyter), in a worker thread with a loop of its own."""
    if not _running_loop():
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="omni-detective-run") as pool:
        return pool.submit(asyncio.run, coro).result()


_DONE = object()
#: Seconds the caller of :meth:`Detective.stream` waits for a cancelled run's thread to wind down (a daemon, so
#: one stuck in a tool that never returns is left behind rather than keeping the caller waiting).
STREAM_JOIN_TIMEOUT = 10.0


def _blocking_iter(agen: AsyncIterator[Any]) -> Iterator[Any]:
    """Iterate an async generator from synchronous code: a thread runs it and hands each item over a queue."""
    import queue
    import threading

    items: queue.Queue[Any] = queue.Queue()
    stop = threading.Event()
    running: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []

    async def pump() -> None:
        running.append((asyncio.get_running_loop(), asyncio.current_task()))  # type: ignore[arg-type]
        try:
            async for item in agen:
                items.put(item)
                if stop.is_set():
                    break
        except BaseException as exc:
            items.put(exc)
        finally:
            with contextlib.suppress(Exception):
                await agen.aclose()  # type: ignore[attr-defined]
            items.put(_DONE)

    thread = threading.Thread(target=asyncio.run, args=(pump(),), name="omni-detective-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:  # the consumer stopped (the end, a break, Ctrl-C): cancel the run rather than wait for its end
        stop.set()
        for loop, task in running:
            with contextlib.suppress(RuntimeError):  # its loop has closed: the run is over
                loop.call_soon_threadsafe(task.cancel)
        thread.join(STREAM_JOIN_TIMEOUT)


@functools.cache
def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


@functools.cache
def _plugin_version(plugin: str) -> str:
    for ep in importlib.metadata.entry_points(group="omni_detective"):
        if ep.name == plugin and ep.dist is not None:
            return ep.dist.version
    return _version("omni-detective") if plugin.startswith("detective.") else "unknown"
