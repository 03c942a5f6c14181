"""The Detective as a LangGraph state machine.

::

    START → open → (route) → plan → query → observe ×N → review → (route) → plan … → synthesize → END
                           ↘ direct → END

- ``open`` probes the clip (when the input gives a ``source``), sets up the run's services, resolves the
  configuration's names through the plugin manager, and starts the tools' warm-ups.
- ``route`` is the one router of the loop; the stop rule is the one function :func:`stop_reason`.
- ``plan`` asks the planner for queries or ``finish``; ``query`` drops queries already answered or for tools
  outside the tool box or with invalid arguments and trims to the budget; the round's queries fan out with ``Send``
  to ``observe`` and all start at once (local observers share ``max_concurrency`` slots, remote ones are bounded
  by the endpoint limits); ``review`` closes the round's record.
- ``synthesize`` hands the evidence to the captioner and measures the caption's grounding; ``direct`` (direct mode,
  a branch of the same graph) has one omni model caption the raw clip.

The configuration is :class:`~detective.agent.config.DetectiveConfig` (the ``context_schema``, plain values, so
LangGraph Studio serves and edits it); a run's :class:`~detective.runtime.RunServices` travel in its run config
(:data:`SERVICES_KEY`, fresh ones from :class:`DetectiveGraph` when a run brings none), where every node finds
them; LangGraph's recursion limit is only a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Literal

import structlog
from langchain_core.runnables import RunnableConfig
from langgraph._internal._runnable import RunnableCallable
from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from detective import media as dmedia
from detective.agent.allocator import limit_arenas
from detective.agent.config import DetectiveConfig, Toolbox, resolve_toolbox
from detective.agent.events import Captioned, Observed, RoundPlanned
from detective.agent.fallback import plan_or_fall_back
from detective.agent.state import DetectiveInput, DetectiveOutput, DetectiveState, FanOutInput, ObserveTask, RouteInput
from detective.agent.windows import window_queries
from detective.captioning import CaptionJob
from detective.evidence.board import EvidenceUpdate
from detective.evidence.coverage import NoEvidenceError, unexamined_modalities
from detective.evidence.grounding import caption_texts, measure
from detective.llm.client import UNSUPPORTED_INPUT
from detective.models import (
    Coverage,
    Evidence,
    MediaInfo,
    Observation,
    Query,
    RoundRecord,
    TimeSpan,
    ToolFailure,
)
from detective.planning import PlanInput
from detective.runtime import RunServices, use_services
from detective.tools import ObserverTimeout, Tool, ToolUnavailable

log = structlog.get_logger("detective.agent.graph")

#: The run config's ``configurable`` key under which a run's services travel to every node (what
#: :class:`~detective.agent.detective.Detective` passes; :class:`DetectiveGraph` adds fresh ones to a run without).
#: Its ``__`` keeps it out of checkpoint metadata: LangGraph's server copies every other configurable key there, and
#: services do not serialise.
SERVICES_KEY = "__omni_detective_services"


def services_of(config: RunnableConfig) -> RunServices:
    """The services of the run whose config ``config`` is (what every node is handed by LangGraph)."""
    services = (config.get("configurable") or {}).get(SERVICES_KEY)
    if not isinstance(services, RunServices):
        raise RuntimeError(f"the run config has no services under configurable[{SERVICES_KEY!r}]")
    return services


def with_services(config: RunnableConfig | None) -> RunnableConfig:
    """``config`` with fresh :class:`RunServices` under :data:`SERVICES_KEY` unless it brings its own."""
    configurable = dict((config or {}).get("configurable") or {})
    if isinstance(configurable.get(SERVICES_KEY), RunServices):
        return config  # type: ignore[return-value]
    configurable[SERVICES_KEY] = RunServices()
    return {**(config or {}), "configurable": configurable}  # type: ignore[typeddict-item]


def run_config_of(runtime: Runtime[DetectiveConfig], services: RunServices) -> DetectiveConfig:
    """The run's configuration: LangGraph's runtime context (what :class:`~detective.agent.detective.Detective`
    and a configured Studio run pass); a run started without one uses what ``open`` read from the environment."""
    context = runtime.context
    if isinstance(context, DetectiveConfig):
        return context
    assert services.config is not None, "open sets the configuration of a run started without a context"
    return services.config


def _set_up(services: RunServices, runtime: Runtime[DetectiveConfig]) -> DetectiveConfig:
    """Complete the services of a run started without a tool box (Studio, ``graph.invoke``, a run resumed from a
    checkpoint): the configuration (from the environment when there is no context), settings and tool box."""
    if not isinstance(runtime.context, DetectiveConfig) and services.config is None:  # no context: the environment's
        services.config = DetectiveConfig.from_env()
    run_config = run_config_of(runtime, services)
    if services.toolbox is None:
        services.settings = run_config.settings(services.settings)
        services.toolbox = resolve_toolbox(run_config, services.settings)
    return run_config


@contextlib.contextmanager
def _in_run(runtime: Runtime[DetectiveConfig]) -> Iterator[tuple[RunServices, DetectiveConfig, Toolbox]]:
    """The run's services (from the node's run config, LangGraph's ``get_config()``), configuration
    (:func:`run_config_of`) and tool box; tools inside reach the services as the current ones."""
    services = services_of(get_config())
    run_config = _set_up(services, runtime) if services.toolbox is None else run_config_of(runtime, services)
    assert services.toolbox is not None
    with use_services(services):
        yield services, run_config, services.toolbox


def stop_reason(state: RouteInput, config: DetectiveConfig, services: RunServices) -> str | None:
    """Why the investigation must stop instead of planning another round, or ``None`` to go on.

    The whole stop rule: the planner closed the case, the last round asked nothing new, ``max_rounds``, or the
    budget (calls, tokens, seconds). Checked between rounds, never in the middle of one.
    """
    rnd = state.get("round", 0)
    if state.get("planner_done") is not None:
        return f"planner finished: {state['planner_done'] or 'case closed'}"
    if rnd > 0 and not state.get("last_queries"):
        return "no new queries"
    if rnd >= config.max_rounds:
        return f"max_rounds ({config.max_rounds}) reached"
    usage, budget = services.usage, config.budget
    if budget.max_calls is not None and usage.observer_calls + usage.llm_calls >= budget.max_calls:
        return f"budget: {budget.max_calls} calls spent"
    if budget.max_tokens is not None and usage.total_tokens >= budget.max_tokens:
        return f"budget: {budget.max_tokens} tokens spent"
    if budget.max_seconds is not None and time.monotonic() - services.started >= budget.max_seconds:
        return f"budget: {budget.max_seconds} s spent"
    return None


def route(state: RouteInput, runtime: Runtime[DetectiveConfig]) -> Literal["direct", "plan", "synthesize"]:
    """The router of the loop: direct mode's branch, another round, or the caption when :func:`stop_reason` says so.

    It reads only :class:`RouteInput` of the state (LangGraph reads a branch's input schema), never the board."""
    services = services_of(get_config())
    config = run_config_of(runtime, services)
    if config.mode == "direct":
        return "direct"
    return "synthesize" if stop_reason(state, config, services) else "plan"


def applicable_tools(media: MediaInfo, toolbox: Toolbox, services: RunServices | None = None) -> list[Tool]:
    """The tools of the tool box whose modalities the clip has, less those whose model was found unable to take
    their input this run (when the run's ``services`` are given)."""
    out = [t for t in toolbox.tools.values() if t.applies_to(media)]
    refused = unavailable_tools(toolbox, services) if services is not None else {}
    return [t for t in out if t.name not in refused] if refused else out


def unavailable_tools(toolbox: Toolbox, services: RunServices) -> dict[str, str]:
    """Tools whose role's model was found unable to take their input this run, with the reason."""
    out: dict[str, str] = {}
    for tool in toolbox.tools.values():
        if not (tool.needs_api and tool.model_inputs):
            continue
        llm = services.llm(tool.role)
        caps = llm.capabilities()
        refused = [k for k in tool.model_inputs if caps.accepts(k) is False]
        if refused:
            out[tool.name] = (
                f"{tool.name} is unavailable for this run: {tool.role} model {llm.model} cannot take "
                f"{' or '.join(refused)} input"
            )
    return out


async def open_clip(state: DetectiveInput, runtime: Runtime[DetectiveConfig], config: RunnableConfig) -> dict:
    """Start a run: probe the clip, set up the run's services, resolve the configuration, start warm-ups.

    A run started by :class:`~detective.agent.detective.Detective` brings its services (usage meter, cache, the objects
    it was given) in the run config (``configurable``, :data:`SERVICES_KEY`); one started elsewhere (LangGraph
    Studio, ``graph.invoke``/``ainvoke``) gets fresh ones from :class:`DetectiveGraph`, set up here from the
    context, or from :meth:`DetectiveConfig.from_env` when the context is empty.
    """
    from detective.media import aopen_media

    limit_arenas()  # before the observers' threads exist: see detective.agent.allocator
    services = services_of(config)
    run_config = _set_up(services, runtime)
    assert services.toolbox is not None
    media = state.get("media")
    if media is None:
        source = state.get("source")
        if not source:
            raise ValueError("the input needs a 'source' (a clip's path or URL) or its 'media'")
        media = await aopen_media(
            source,
            download_timeout=run_config.download_timeout,
            download=needs_local_copy(services.toolbox),
        )
    if not services.clip:
        services.clip = media.source
    if run_config.mode == "detective":
        services.warmups = [
            asyncio.create_task(_warm(tool, media, services), name=f"prepare {tool.name}")
            for tool in applicable_tools(media, services.toolbox)
            if type(tool).prepare is not Tool.prepare
        ]
    return {"media": media}


def needs_local_copy(toolbox: Toolbox) -> bool:
    """Whether a clip given by URL must be downloaded for ``toolbox``: unless every tool reads the URL itself
    (``Tool.reads_url``), when the clip is only probed over the network."""
    return not toolbox.tools or not all(t.reads_url for t in toolbox.tools.values())


async def _warm(tool: Tool, media: MediaInfo, services: RunServices) -> None:
    with use_services(services):
        try:
            await tool.prepare(media)
        except Exception as exc:  # observe() meets the same problem and reports it
            log.debug("tool warm-up failed", tool=tool.name, error=str(exc)[:300])


async def end_warmups(services: RunServices) -> None:
    """Cancel the warm-ups still running (the run is over) and wait for them to go."""
    tasks, services.warmups = services.warmups, []
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _plan_input(
    state: DetectiveState, config: DetectiveConfig, toolbox: Toolbox, services: RunServices, trajectory: list
) -> PlanInput:
    return PlanInput(
        media=state["media"],
        evidence=state.get("evidence") or Evidence(),
        tools=applicable_tools(state["media"], toolbox, services),
        round=state.get("round", 0) + 1,
        max_rounds=config.max_rounds,
        rounds=state.get("rounds", []),
        trajectory=trajectory,
        last_queries=state.get("last_queries", []),
    )


async def plan(state: DetectiveState, runtime: Runtime[DetectiveConfig]) -> dict:
    """Ask the planner for the next round's queries, or to close the case.

    A planner that errs, cannot use its replies or closes the case before any observer ran hands the clip to the
    rule planner's broad pass (:func:`~detective.agent.fallback.plan_or_fall_back`), which plans every later round; the
    round's record and the notes say so. Tools found unavailable for the run are noted once.
    """
    with _in_run(runtime) as (services, config, toolbox):
        rnd = state.get("round", 0) + 1
        structlog.contextvars.bind_contextvars(round=rnd)
        assert toolbox.planner is not None
        decision = await plan_or_fall_back(
            toolbox.planner,
            _plan_input(state, config, toolbox, services, state.get("trajectory", [])),
            fallback_since=state.get("fallback_since", 0),
        )
        noted = set(state.get("notes", []))
        unavailable = [n for n in unavailable_tools(toolbox, services).values() if n not in noted]
    update: dict = {"round": rnd, "planned": decision.queries, "plan_note": ""}
    if decision.trajectory is not None:
        update["trajectory"] = decision.trajectory
    if decision.fallback and not state.get("fallback_since"):
        update["fallback_since"] = rnd
    if decision.notes or unavailable:
        update["notes"] = [*unavailable, *decision.notes]
        update["plan_note"] = "; ".join(decision.notes)
    if decision.finish and not decision.queries:
        update["planner_done"] = decision.rationale
    log.info("planned", queries=len(decision.queries), finish=decision.finish)
    runtime.stream_writer(
        RoundPlanned(
            round=rnd,
            queries=decision.queries,
            finish="planner_done" in update,
            rationale=update.get("planner_done") or "",
        )
    )
    return update


async def query(state: DetectiveState, runtime: Runtime[DetectiveConfig]) -> dict:
    """Turn the plan into runnable queries: known tools only, valid arguments only, nothing asked twice, within
    the budget; an LLM observer's query over a span longer than ``window_seconds`` becomes one query per window
    (:mod:`detective.agent.windows`).

    A query already answered is not run again: its answer is on the board, and the planner sees it there. A query
    whose arguments its tool rejects is dropped with a note (the LLM planner repairs such calls before it returns
    them): it never reaches an observer.
    """
    with _in_run(runtime) as (services, config, toolbox):
        evidence = state.get("evidence") or Evidence()
        answered = set(evidence.answered)
        tools = {t.name: t for t in applicable_tools(state["media"], toolbox, services)}
        known: list[Query] = []
        notes: list[str] = []
        for q in state.get("planned", []):
            if q.tool not in tools:
                notes.append(f"round {state.get('round')}: dropped query for unavailable tool {q.tool!r}")
            elif problem := tools[q.tool].invalid_arguments(q):  # the planner's mistake, not an observer's failure
                notes.append(
                    f"round {state.get('round')}: dropped query for {q.tool} with invalid arguments: {problem}"
                )
            elif q.key not in {k.key for k in known}:
                known.append(q)
        runnable = [q for q in known if q.key not in answered][: config.max_queries_per_round]
        # a long span goes to an LLM observer window by window (the cap above counts what the planner asked)
        runnable = [
            q
            for q in window_queries(runnable, state["media"], toolbox.tools, evidence, config.window_seconds)
            if q.key not in answered
        ]
        if config.budget.max_calls is not None:
            usage = services.usage
            runnable = runnable[: max(0, config.budget.max_calls - usage.observer_calls - usage.llm_calls)]
    return {"queries": runnable, "last_queries": known, "notes": notes}


def fan_out(state: FanOutInput) -> list[Send] | Literal["review"]:
    """One ``Send`` per query: each runs in its own observer, concurrently. Nothing to run: straight to review."""
    if not state.get("queries"):
        return "review"
    return [
        Send("observe", ObserveTask(media=state["media"], query=q, round=state.get("round", 0)))
        for q in state["queries"]
    ]


async def observe(task: ObserveTask, runtime: Runtime[DetectiveConfig]) -> dict:
    """Run one query in one independent observer and add what it reports to the evidence."""
    with _in_run(runtime) as (services, config, toolbox):
        update = await _observe(task, services, config, toolbox.tools[task["query"].tool])
    found: EvidenceUpdate = update["evidence"]
    failure = found.failures[0] if found.failures else None
    runtime.stream_writer(
        Observed(
            round=task["round"],
            tool=task["query"].tool,
            query_key=task["query"].key,
            observations=found.observations,
            failure=failure,
        )
    )
    return update


async def _observe(task: ObserveTask, services: RunServices, config: DetectiveConfig, tool: Tool) -> dict:
    q, media, rnd = task["query"], task["media"], task["round"]
    structlog.contextvars.bind_contextvars(tool=tool.name, round=rnd)
    services.usage.tool_calls[tool.name] = services.usage.tool_calls.get(tool.name, 0) + 1
    cache_key = f"{media.content_hash}:{tool.name}:{tool.version}:{q.key}" if media.content_hash else None
    observations: list[Observation] | None = None
    if services.cache is not None and cache_key:
        hit = services.cache.get("observe", cache_key)
        if hit is not None:
            observations = [Observation.model_validate(o) for o in hit]
    try:
        if observations is None:
            if tool.needs_api:  # waits on the network: bounded by the endpoint limits, shared by every clip
                observations = await _observe_within(tool, media, q, config.observer_timeout)
            else:
                async with services.local_slots(config.max_concurrency):
                    observations = await _observe_within(tool, media, q, config.observer_timeout)
            if services.cache is not None and cache_key:
                services.cache.put("observe", cache_key, [o.model_dump(mode="json") for o in observations])
    except Exception as exc:  # an observer failure is evidence of absence, never a crash
        error = f"{tool.name} on {media.source}: {type(exc).__name__}: {exc}"
        if isinstance(exc, ToolUnavailable | ObserverTimeout):  # their message is the whole story
            error = str(exc)
        elif getattr(exc, "code", None) == UNSUPPORTED_INPUT:  # a tool that let the client's refusal through
            error = f"{tool.name}: unavailable for this run: {exc}"
        log.warning("observer failed", error=error)
        failure = ToolFailure(tool=tool.name, query_key=q.key, error=error, round=rnd)
        missed = Coverage(
            tool=tool.name, query_key=q.key, modalities=tuple(tool.modalities), span=q.span, ok=False, error=error
        )
        return {"evidence": EvidenceUpdate(failures=[failure], answered=[q.key], coverage=[missed], defer_claims=True)}
    stamped = [
        o.model_copy(update={"query_key": q.key, "round": rnd, "tool": o.tool or tool.name}) for o in observations
    ]
    examined = tool.coverage(media, q, stamped).model_copy(
        update={"round": rnd, "query_key": q.key, "undecoded": _undecoded(media, tool)}
    )
    log.info("observed", observations=len(stamped))
    # the LLM claims are checked once the whole round is in (review), not once per answer
    update = EvidenceUpdate(observations=stamped, answered=[q.key], coverage=[examined], defer_claims=True)
    return {"evidence": update}


def _undecoded(media: MediaInfo, tool: Tool) -> tuple[tuple[str, TimeSpan], ...]:
    """Spans of the streams ``tool`` reads that decoding skipped as damaged (so far, in this process)."""
    if not media.path:
        return ()
    return tuple((kind, span) for kind, span, _cause in dmedia.damage(media.path) if kind in tool.modalities)


async def _observe_within(tool: Tool, media: MediaInfo, q: Query, seconds: float) -> list[Observation]:
    """``tool.aobserve`` bounded by ``seconds``. A synchronous tool's thread that overruns is abandoned (see
    :func:`detective.threads.run_sync`): the clip goes on without its answer, and the thread never delays exit."""
    try:
        async with asyncio.timeout(seconds) as deadline:
            return await tool.aobserve(media, q)
    except TimeoutError:
        if not deadline.expired():  # the tool's own timeout (a socket, a subprocess): reported as it is
            raise
        raise ObserverTimeout(
            f"{tool.name} on {media.source}: no answer within {seconds:g} s (observer_timeout); the call was "
            "abandoned and the clip went on without it"
        ) from None


def review(state: DetectiveState) -> dict:
    """Close the round: the LLM claims checked against the whole round's board (the observers deferred it, see
    :class:`~detective.evidence.board.EvidenceUpdate`), its record (planned, ran, what came back), and no queries
    left pending.

    A turn in which the planner only closed the case is not a round: it leaves no record.
    """
    rnd = state.get("round", 0)
    if state.get("planner_done") is not None and not state.get("planned"):
        return {"queries": []}
    evidence = state.get("evidence") or Evidence()
    record = RoundRecord(
        round=rnd,
        planned=state.get("planned", []),
        ran=state.get("queries", []),
        observations=sum(1 for o in evidence.observations if o.round == rnd),
        failures=sum(1 for f in evidence.failures if f.round == rnd),
        note=state.get("plan_note", ""),
    )
    return {"rounds": [record], "queries": [], "evidence": EvidenceUpdate()}


async def synthesize(state: DetectiveState, runtime: Runtime[DetectiveConfig]) -> dict:
    """Hand the evidence to the captioner (the planner first closes its conversation); measure the grounding."""
    with _in_run(runtime) as (services, config, toolbox):
        await end_warmups(services)
        evidence = state.get("evidence") or Evidence()
        media = state["media"]
        missing = unexamined_modalities(
            media, evidence, [t.modalities for t in applicable_tools(media, toolbox, services)]
        )
        if missing:
            raise NoEvidenceError(_no_evidence(media.source, missing, evidence))
        trajectory = list(state.get("trajectory", []))
        conclude = getattr(toolbox.planner, "conclude", None)
        if conclude is not None:
            closing = _plan_input(state, config, toolbox, services, trajectory)
            trajectory = await conclude(closing.model_copy(update={"round": state.get("round", 0)}))
        assert toolbox.captioner is not None
        job = CaptionJob(media=media, evidence=evidence, trajectory=trajectory, options=toolbox.captioner_options)
        out = await toolbox.captioner.caption(job)
        reason = stop_reason(state, config, services) or "finished"
    notes = list(out.notes) + [f"observer failed: {f.error}" for f in evidence.failures]
    # the board's cross-check and clause verdicts, as the captioner had them (each computed once)
    grounding = measure(caption_texts(out.markdown), evidence, media, checks=job.checks, settled=job.settled)
    if grounding.ungrounded:
        listed = ", ".join(f"“{c}”" for c in grounding.ungrounded[:20])
        notes.append(f"claims no observation reports (grounding {grounding.score:.2f}): {listed}")
    runtime.stream_writer(Captioned(caption=out.caption, markdown=out.markdown, stop_reason=reason))
    return {
        "caption": out.caption,
        "caption_markdown": out.markdown,
        "trajectory": trajectory + out.trajectory,
        "notes": notes,
        "caption_prompt_hash": out.prompt_hash,
        "stop_reason": reason,
        "grounding": grounding,
        "usage": _final_usage(services),
    }


async def direct(state: DetectiveState, runtime: Runtime[DetectiveConfig]) -> dict:
    """Direct mode: the captioner (an omni model) captions the raw clip; no observers, no evidence."""
    with _in_run(runtime) as (services, _config, toolbox):
        assert toolbox.captioner is not None
        out = await toolbox.captioner.caption(
            CaptionJob(media=state["media"], evidence=Evidence(), options=toolbox.captioner_options)
        )
    runtime.stream_writer(Captioned(caption=out.caption, markdown=out.markdown, stop_reason="direct mode"))
    return {
        "caption": out.caption,
        "caption_markdown": out.markdown,
        "evidence": Evidence(),
        "trajectory": out.trajectory,
        "notes": out.notes,
        "caption_prompt_hash": out.prompt_hash,
        "stop_reason": "direct mode",
        "grounding": None,
        "usage": _final_usage(services),
    }


def _final_usage(services: RunServices):
    services.usage.seconds = round(time.monotonic() - services.started, 3)
    return services.usage.model_copy(deep=True)


def _no_evidence(source: str, missing: list[str], evidence: Evidence) -> str:
    """The error of a clip no observer could examine: which modality, and why each observer failed."""
    causes = "; ".join(dict.fromkeys(f.error for f in evidence.failures)) or "no observer was asked"
    return f"{source}: no observer succeeded on its {' and '.join(missing)}, so there is nothing to caption ({causes})"


_sync_loop: asyncio.AbstractEventLoop | None = None
_sync_loop_lock = threading.Lock()


def _loop_for_sync_runs() -> asyncio.AbstractEventLoop:
    """The event loop the nodes of synchronous runs (``graph.invoke``, ``graph.stream``) run on.

    One loop for the process, in a daemon thread, so a run's warm-up tasks and its HTTP clients' pools (which
    belong to a loop) outlive the node that started them, as they do in an async run.
    """
    global _sync_loop
    with _sync_loop_lock:
        if _sync_loop is None or _sync_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="omni-detective-sync-runs", daemon=True).start()
            _sync_loop = loop
        return _sync_loop


def _sync(afunc: Callable[..., Coroutine[Any, Any, dict]]) -> Callable[..., dict]:
    """The synchronous twin of an async node: the same coroutine, run on :func:`_loop_for_sync_runs`.

    ``run_coroutine_threadsafe`` schedules it with a copy of the caller's context, so LangGraph's run config and
    the logging context reach it as they would in ``ainvoke``. The wait is as long as the node itself, whose
    observers have their own deadlines; a caller that gives up (Ctrl-C, a closed stream) cancels it.
    """

    @functools.wraps(afunc)  # the same signature: LangGraph injects ``runtime`` and ``config`` as for ``afunc``
    def run(*args: Any, **kwargs: Any) -> dict:
        future = asyncio.run_coroutine_threadsafe(afunc(*args, **kwargs), _loop_for_sync_runs())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    return run


def _node(afunc: Callable[..., Coroutine[Any, Any, dict]]) -> RunnableCallable:
    """An async node LangGraph can also run synchronously (``invoke``, ``stream``).

    Untraced, as LangGraph makes every node given as a plain function (``add_node`` coerces with ``trace=False``):
    the node's task is already the run callbacks and tracers see, and a second run per node cost a callback
    manager per step (``benchmarks/upstream_baseline.py``)."""
    return RunnableCallable(_sync(afunc), afunc, name=afunc.__name__, trace=False)


def _inline(func: Callable[..., Any], *, trace: bool) -> RunnableCallable:
    """A quick synchronous step (a router, the review) that LangGraph runs on the event loop under ``astream``.

    Given as a plain function, LangGraph runs a sync step in a thread pool (``run_in_executor``) on every call of
    an async run: a thread hop and a wake-up of the loop for microseconds of work, several times a round for every
    clip in flight. ``trace`` is LangGraph's own default for the kind of step: on for a branch, off for a node.
    """

    @functools.wraps(func)  # the same signature: LangGraph injects ``runtime`` as for ``func``
    async def run(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return RunnableCallable(func, run, name=func.__name__, trace=trace)


def build_graph() -> StateGraph:
    """The uncompiled Detective graph. Every node runs sync and async: ``invoke``, ``stream``, ``ainvoke`` and
    ``astream`` all work from plain input (``{"source": "clip.mp4"}``)."""
    g = StateGraph(
        DetectiveState, context_schema=DetectiveConfig, input_schema=DetectiveInput, output_schema=DetectiveOutput
    )
    g.add_node("open", _node(open_clip), input_schema=DetectiveInput)
    g.add_node("plan", _node(plan))
    g.add_node("query", _node(query))
    g.add_node("observe", _node(observe), input_schema=ObserveTask)
    g.add_node("review", _inline(review, trace=False))
    g.add_node("synthesize", _node(synthesize))
    g.add_node("direct", _node(direct))
    g.add_edge(START, "open")
    g.add_conditional_edges("open", _inline(route, trace=True), ["direct", "plan", "synthesize"])
    g.add_edge("plan", "query")
    g.add_conditional_edges("query", _inline(fan_out, trace=True), ["observe", "review"])
    g.add_edge("observe", "review")
    g.add_conditional_edges("review", _inline(route, trace=True), ["plan", "synthesize"])
    g.add_edge("synthesize", END)
    g.add_edge("direct", END)
    return g


class DetectiveGraph(CompiledStateGraph):
    """The compiled Detective graph: a run that brings no services in its config (Studio, ``graph.invoke``) gets
    fresh ones (:func:`with_services`), so every node finds its run's services in the run config.

    ``invoke``, ``ainvoke``, ``astream_events`` and LangGraph's server all start runs through :meth:`stream` or
    :meth:`astream`; LangGraph's ``copy`` and ``with_config`` keep the class.
    """

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
        """:meth:`CompiledStateGraph.stream` with the run's services in its config."""
        return super().stream(input, with_services(config), **kwargs)

    def astream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        """:meth:`CompiledStateGraph.astream` with the run's services in its config."""
        return super().astream(input, with_services(config), **kwargs)


def compile_graph(**options: Any) -> DetectiveGraph:
    """The compiled Detective graph (:func:`build_graph`, compiled as a :class:`DetectiveGraph`); ``options`` go to
    LangGraph's ``compile`` (``checkpointer=``, ``interrupt_before=`` …)."""
    compiled = build_graph().compile(name="detective", **options)
    return DetectiveGraph(**{k: v for k, v in compiled.__dict__.items() if k != "__orig_class__"})


#: The compiled Detective graph (what ``langgraph.json`` and ``omni-detective graph`` point at).
graph = compile_graph()
