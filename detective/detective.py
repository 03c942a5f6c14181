"""The Python API: ``Detective(tools=[...]).run(path_or_url) -> RunResult``."""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata
import time
from collections.abc import Iterable
from typing import Any

import structlog

from detective.capabilities import CapabilityStore
from detective.captioning import Captioner, CaptionJob
from detective.graph import graph
from detective.grounding import caption_texts, measure
from detective.logs import add_secret
from detective.models import Evidence, MediaInfo, Provenance, RunResult
from detective.planning import Planner
from detective.plugins import get_registry
from detective.runtime import Cache, RunServices, use_services
from detective.settings import Settings
from detective.state import Budget, DetectiveContext
from detective.tools import Tool, as_tool

log = structlog.get_logger("detective")


class Detective:
    """Interrogates independent observers about a clip and writes a detailed caption.

    :param tools: Tool objects, registered tool names, langchain-core ``BaseTool`` instances or functions.
        ``None`` takes every registered tool; tools that call a remote model join only when online.
    :param planner: a Planner, a registered planner name, or ``None`` (``llm`` when online, else ``rule``).
    :param captioner: a Captioner, a registered name, or ``None`` (``llm`` when online, else ``template``; the core's
        ``evidence`` captioner when the captioning plugin is absent).
    :param max_rounds: rounds of plan → query → observe at most.
    :param max_concurrency: observers running at once within a clip.
    :param budget: limits on calls, tokens and seconds per clip.
    :param settings: endpoints and models; ``Settings.from_env()`` by default.
    :param offline: never call a remote model, even with a key set.
    :param cache: a persistent cache for observer results and LLM replies.
    :param limits: per-endpoint request limits shared across clips (``detective.llm.EndpointLimits``).
    :param mode: ``detective`` (the agent loop) or ``direct`` (one call to an omni model, no observers).
    """

    def __init__(
        self,
        tools: Iterable[Any] | None = None,
        planner: Planner | str | None = None,
        captioner: Captioner | str | None = None,
        *,
        max_rounds: int = 6,
        max_concurrency: int = 4,
        budget: Budget | None = None,
        settings: Settings | None = None,
        offline: bool | None = None,
        cache: Cache | None = None,
        limits: Any = None,
        mode: str = "detective",
        captioner_options: dict[str, Any] | None = None,
        observer_timeout: float = 900.0,
    ) -> None:
        self.settings = settings or Settings.from_env()
        if offline:
            self.settings = self.settings.model_copy(update={"offline": True})
        for secret in self.settings.secrets():
            add_secret(secret)
        if mode not in {"detective", "direct"}:
            raise ValueError(f"mode must be 'detective' or 'direct', not {mode!r}")
        self.mode = mode
        self.registry = get_registry()
        self.tools = self._resolve_tools(tools)
        self.planner = self._resolve(planner, "planners", "llm" if self.settings.online("planner") else "rule")
        default_captioner = "direct" if mode == "direct" else self._default_captioner()
        self.captioner = self._resolve(captioner, "captioners", default_captioner)
        self.max_rounds = max_rounds
        self.max_concurrency = max_concurrency
        self.budget = budget or Budget()
        self.cache = cache
        #: What each endpoint's model can do, learnt once for all the clips this Detective runs (and cached).
        self.capabilities = CapabilityStore(cache)
        self.limits = limits
        self.captioner_options = captioner_options or {}
        self.observer_timeout = observer_timeout
        self._provenance: Provenance | None = None

    # --- configuration ----------------------------------------------------------------------------------

    def _online_tool(self, tool: Tool) -> bool:
        return not tool.needs_api or self.settings.online(tool.role)

    def _resolve_tools(self, tools: Iterable[Any] | None) -> dict[str, Tool]:
        if tools is None:
            chosen = [r.value for r in self.registry.tools.values()]
            chosen = [t for t in chosen if self._online_tool(t)]
        else:
            chosen = [self.registry.tool(t) if isinstance(t, str) else as_tool(t) for t in tools]
        out: dict[str, Tool] = {}
        for tool in chosen:
            if tool.name in out:
                raise ValueError(f"two tools are named {tool.name!r}; tool names must be unique")
            out[tool.name] = tool
        return out

    def _default_captioner(self) -> str:
        names = self.registry.captioners
        if self.settings.online("captioner") and "llm" in names:
            return "llm"
        return "template" if "template" in names else "evidence"

    def _resolve(self, value: Any, kind: str, default: str) -> Any:
        if value is None:
            value = default
        if isinstance(value, str):
            return self.registry.make(kind, value)
        return value

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
            hashes["planner"] = str(self.planner.prompt_hash)  # type: ignore[union-attr]
        return Provenance(
            package_version=_version("omni-detective"),
            tools={t.name: t.version for t in self.tools.values()},
            planner=getattr(self.planner, "name", type(self.planner).__name__),
            captioner=getattr(self.captioner, "name", type(self.captioner).__name__),
            models=models,
            endpoints=endpoints,
            prompt_hashes=hashes,
            plugins={r.plugin: _plugin_version(r.plugin) for r in self.registry.tools.values()},
        )

    # --- running ----------------------------------------------------------------------------------------

    def _start_warmups(self, media: MediaInfo) -> list[asyncio.Task[None]]:
        """Start :meth:`Tool.prepare` of every applicable tool that has one; they run while the planner thinks."""
        tasks = []
        for tool in self.tools.values():
            if type(tool).prepare is not Tool.prepare and tool.applies_to(media):
                tasks.append(asyncio.create_task(_warm(tool, media), name=f"prepare {tool.name}"))
        return tasks

    def run(self, source: str, **kwargs: Any) -> RunResult:
        """Investigate one clip (path or URL) and return its RunResult. Blocks; see :meth:`arun`."""
        return asyncio.run(self.arun(source, **kwargs))

    async def arun(self, source: str, *, clip: str | None = None, media: MediaInfo | None = None) -> RunResult:
        """Investigate one clip. Raises ``MediaError`` for unusable media; a failing planner falls back instead."""
        from detective.media import discard_download, open_media

        if media is None:
            media = await asyncio.to_thread(open_media, source)
            try:
                return await self._investigate(source, media, clip)
            finally:
                discard_download(media)
        return await self._investigate(source, media, clip)

    async def _investigate(self, source: str, media: MediaInfo, clip: str | None) -> RunResult:
        structlog.contextvars.bind_contextvars(clip=clip or source)
        started = time.monotonic()
        services = RunServices(
            settings=self.settings,
            cache=self.cache,
            limits=self.limits,
            clip=clip or source,
            capabilities=self.capabilities,
        )
        with use_services(services):
            if self.mode == "direct":
                out = await self.captioner.caption(
                    CaptionJob(media=media, evidence=Evidence(), options=self.captioner_options)
                )
                state: dict[str, Any] = {
                    "caption": out.caption,
                    "caption_markdown": out.markdown,
                    "evidence": Evidence(),
                    "trajectory": out.trajectory,
                    "rounds": [],
                    "stop_reason": "direct mode",
                    "notes": out.notes,
                    "caption_prompt_hash": out.prompt_hash,
                }
            else:
                ctx = DetectiveContext(
                    tools=self.tools,
                    planner=self.planner,
                    captioner=self.captioner,
                    max_rounds=self.max_rounds,
                    budget=self.budget,
                    services=services,
                    captioner_options=self.captioner_options,
                    observer_timeout=self.observer_timeout,
                )
                warmups = self._start_warmups(media)
                try:
                    state = await graph.ainvoke(
                        {"media": media},
                        context=ctx,
                        config={"max_concurrency": self.max_concurrency, "recursion_limit": 4 * self.max_rounds + 10},
                    )
                finally:
                    for task in warmups:
                        task.cancel()
                    await asyncio.gather(*warmups, return_exceptions=True)
        services.usage.seconds = round(time.monotonic() - started, 3)
        evidence: Evidence = state.get("evidence") or Evidence()
        rounds = state.get("rounds", [])
        for record in rounds:
            record.observations = sum(1 for o in evidence.observations if o.round == record.round)
            record.failures = sum(1 for f in evidence.failures if f.round == record.round)
        provenance = self.provenance()
        if state.get("caption_prompt_hash"):
            provenance.prompt_hashes["captioner"] = state["caption_prompt_hash"]
        notes = list(state.get("notes", []))
        notes += [f"observer failed: {f.error}" for f in evidence.failures]
        grounding = None
        if self.mode != "direct":
            grounding = measure(caption_texts(state["caption_markdown"]), evidence, media)
            if grounding.ungrounded:
                listed = ", ".join(f"“{c}”" for c in grounding.ungrounded[:20])
                notes.append(f"claims no observation reports (grounding {grounding.score:.2f}): {listed}")
        structlog.contextvars.unbind_contextvars("clip", "round", "tool")
        return RunResult(
            media=media,
            caption=state["caption"],
            caption_markdown=state["caption_markdown"],
            evidence=evidence,
            trajectory=state.get("trajectory", []),
            rounds=rounds,
            stop_reason=state.get("stop_reason", ""),
            usage=services.usage,
            provenance=provenance,
            notes=notes,
            grounding=grounding,
        )


async def _warm(tool: Tool, media: MediaInfo) -> None:
    try:
        await tool.prepare(media)
    except Exception as exc:  # observe() meets the same problem and reports it
        log.debug("tool warm-up failed", tool=tool.name, error=str(exc)[:300])


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
