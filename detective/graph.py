"""The Detective as a LangGraph state machine: ``plan → query → observe → plan … → synthesize``.

- ``plan`` applies the stop rule (budget, ``max_rounds``), then asks the planner for queries or ``finish``.
- ``query`` drops queries already answered or for tools outside the tool box, and trims to the budget.
- ``observe`` runs one query in one independent observer; the round's queries fan out with ``Send`` and run
  concurrently (bounded by the ``max_concurrency`` of the run config). Their evidence merges in the reducer.
- ``synthesize`` hands the evidence to the captioner.

The stop rule is ours and lives in :func:`stop_reason`; LangGraph's recursion limit is only a safety net.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import structlog
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from detective.captioning import CaptionJob
from detective.coverage import NoEvidenceError, unexamined_modalities
from detective.evidence import EvidenceUpdate
from detective.llm import UNSUPPORTED_INPUT
from detective.models import Coverage, Evidence, Observation, Query, RoundRecord, ToolFailure
from detective.planning import PlanInput, plan_or_fall_back
from detective.state import (
    Budget,
    DetectiveContext,
    DetectiveInput,
    DetectiveOutput,
    DetectiveState,
    ObserveTask,
)
from detective.tools import ToolUnavailable

log = structlog.get_logger("detective.graph")


def stop_reason(state: DetectiveState, ctx: DetectiveContext) -> str | None:
    """Why the investigation must stop before planning the next round, or ``None`` to go on."""
    next_round = state.get("round", 0) + 1
    if next_round > ctx.max_rounds:
        return f"max_rounds ({ctx.max_rounds}) reached"
    usage = ctx.services.usage
    budget: Budget = ctx.budget
    if budget.max_calls is not None and usage.observer_calls + usage.llm_calls >= budget.max_calls:
        return f"budget: {budget.max_calls} calls spent"
    if budget.max_tokens is not None and usage.total_tokens >= budget.max_tokens:
        return f"budget: {budget.max_tokens} tokens spent"
    if (
        budget.max_seconds is not None
        and time.monotonic() - state.get("started", time.monotonic()) >= budget.max_seconds
    ):
        return f"budget: {budget.max_seconds} s spent"
    return None


def applicable_tools(state: DetectiveState, ctx: DetectiveContext) -> list:
    """The tools of the tool box whose modalities the clip has, less those whose model cannot take their input."""
    media = state["media"]
    out = [t for t in ctx.tools.values() if t.applies_to(media)]
    refused = unavailable_tools(ctx)
    return [t for t in out if t.name not in refused] if refused else out


def unavailable_tools(ctx: DetectiveContext) -> dict[str, str]:
    """Tools whose role's model was found unable to take their input this run, with the reason."""
    out: dict[str, str] = {}
    for tool in ctx.tools.values():
        if not (tool.needs_api and tool.model_inputs):
            continue
        llm = ctx.services.llm(tool.role)
        caps = llm.capabilities()
        refused = [k for k in tool.model_inputs if caps.accepts(k) is False]
        if refused:
            out[tool.name] = (
                f"{tool.name} is unavailable for this run: {tool.role} model {llm.model} cannot take "
                f"{' or '.join(refused)} input"
            )
    return out


async def plan(state: DetectiveState, runtime: Runtime[DetectiveContext]) -> dict:
    """Decide the next round's queries, or close the case."""
    ctx = runtime.context
    started = state.get("started") or time.monotonic()
    reason = stop_reason({**state, "started": started}, ctx)
    if reason:
        return {"finished": True, "stop_reason": reason, "started": started}
    rnd = state.get("round", 0) + 1
    structlog.contextvars.bind_contextvars(round=rnd)
    assert ctx.planner is not None, "the Detective always sets a planner"
    decision = await plan_or_fall_back(
        ctx.planner,
        PlanInput(
            media=state["media"],
            evidence=state.get("evidence") or Evidence(),
            tools=applicable_tools(state, ctx),
            round=rnd,
            max_rounds=ctx.max_rounds,
            rounds=state.get("rounds", []),
            trajectory=state.get("trajectory", []),
            last_queries=state.get("last_queries", []),
        ),
        fallback_since=state.get("fallback_since", 0),
    )
    update: dict = {"round": rnd, "planned": decision.queries, "started": started, "plan_note": ""}
    noted = set(state.get("notes", []))
    unavailable = [n for n in unavailable_tools(ctx).values() if n not in noted]
    if decision.trajectory is not None:
        update["trajectory"] = decision.trajectory
    if decision.fallback and not state.get("fallback_since"):
        update["fallback_since"] = rnd
    if decision.notes or unavailable:
        update["notes"] = [*unavailable, *decision.notes]
        update["plan_note"] = "; ".join(decision.notes)
    if decision.finish and not decision.queries:
        update.update(finished=True, stop_reason=f"planner finished: {decision.rationale or 'case closed'}")
    log.info("planned", queries=len(decision.queries), finish=decision.finish)
    return update


def after_plan(state: DetectiveState) -> Literal["query", "synthesize"]:
    """Go on to query, or synthesize when the stop rule or the planner closed the case."""
    return "synthesize" if state.get("finished") else "query"


async def query(state: DetectiveState, runtime: Runtime[DetectiveContext]) -> dict:
    """Turn the plan into runnable queries: known tools only, nothing asked twice, within the budget.

    A query already answered is not run again: its answer is on the board, and the planner sees it there.
    """
    ctx = runtime.context
    evidence = state.get("evidence") or Evidence()
    answered = set(evidence.answered)
    tools = {t.name for t in applicable_tools(state, ctx)}
    known: list[Query] = []
    notes: list[str] = []
    for q in state.get("planned", []):
        if q.tool not in tools:
            notes.append(f"round {state.get('round')}: dropped query for unavailable tool {q.tool!r}")
        elif q.key not in {k.key for k in known}:
            known.append(q)
    runnable = [q for q in known if q.key not in answered][: ctx.max_queries_per_round]
    if ctx.budget.max_calls is not None:
        usage = ctx.services.usage
        left = max(0, ctx.budget.max_calls - usage.observer_calls - usage.llm_calls)
        runnable = runnable[:left]
    record = RoundRecord(
        round=state.get("round", 0), planned=state.get("planned", []), ran=runnable, note=state.get("plan_note", "")
    )
    update: dict = {"queries": runnable, "last_queries": known, "rounds": [record], "notes": notes}
    if not known:
        update.update(finished=True, stop_reason="no new queries")
    elif not runnable and len(runnable) < len([q for q in known if q.key not in answered]):
        update.update(finished=True, stop_reason="budget: no calls left")
    return update


def fan_out(state: DetectiveState) -> list[Send] | Literal["plan", "synthesize"]:
    """One ``Send`` per query: each runs in its own observer, concurrently. Only repeats: back to ``plan``."""
    if state.get("finished"):
        return "synthesize"
    if not state.get("queries"):
        return "plan"
    return [
        Send("observe", ObserveTask(media=state["media"], query=q, round=state.get("round", 0)))
        for q in state["queries"]
    ]


async def observe(task: ObserveTask, runtime: Runtime[DetectiveContext]) -> dict:
    """Run one query in one independent observer and add what it reports to the evidence."""
    ctx = runtime.context
    q, media, rnd = task["query"], task["media"], task["round"]
    tool = ctx.tools[q.tool]
    structlog.contextvars.bind_contextvars(tool=tool.name, round=rnd)
    services = ctx.services
    services.usage.tool_calls[tool.name] = services.usage.tool_calls.get(tool.name, 0) + 1
    cache_key = f"{media.content_hash}:{tool.name}:{tool.version}:{q.key}" if media.content_hash else None
    observations: list[Observation] | None = None
    if services.cache is not None and cache_key:
        hit = services.cache.get("observe", cache_key)
        if hit is not None:
            observations = [Observation.model_validate(o) for o in hit]
    try:
        if observations is None:
            observations = await asyncio.wait_for(tool.aobserve(media, q), timeout=ctx.observer_timeout)
            if services.cache is not None and cache_key:
                services.cache.put("observe", cache_key, [o.model_dump(mode="json") for o in observations])
    except Exception as exc:  # an observer failure is evidence of absence, never a crash
        error = f"{tool.name} on {media.source}: {type(exc).__name__}: {exc}"
        if isinstance(exc, ToolUnavailable):
            error = str(exc)
        elif getattr(exc, "code", None) == UNSUPPORTED_INPUT:  # a tool that let the client's refusal through
            error = f"{tool.name}: unavailable for this run: {exc}"
        elif isinstance(exc, TimeoutError):
            error = f"{tool.name} on {media.source}: no answer within {ctx.observer_timeout:.0f} s"
        log.warning("observer failed", error=error)
        failure = ToolFailure(tool=tool.name, query_key=q.key, error=error, round=rnd)
        missed = Coverage(
            tool=tool.name, query_key=q.key, modalities=tuple(tool.modalities), span=q.span, ok=False, error=error
        )
        return {"evidence": EvidenceUpdate(failures=[failure], answered=[q.key], coverage=[missed])}
    stamped = [
        o.model_copy(update={"query_key": q.key, "round": rnd, "tool": o.tool or tool.name}) for o in observations
    ]
    examined = tool.coverage(media, q, stamped).model_copy(update={"round": rnd, "query_key": q.key})
    log.info("observed", observations=len(stamped))
    return {"evidence": EvidenceUpdate(observations=stamped, answered=[q.key], coverage=[examined])}


async def synthesize(state: DetectiveState, runtime: Runtime[DetectiveContext]) -> dict:
    """Hand the evidence to the captioner; the planner first closes its conversation."""
    ctx = runtime.context
    evidence = state.get("evidence") or Evidence()
    media = state["media"]
    missing = unexamined_modalities(media, evidence, [t.modalities for t in applicable_tools(state, ctx)])
    if missing:
        raise NoEvidenceError(_no_evidence(media.source, missing, evidence))
    trajectory = list(state.get("trajectory", []))
    conclude = getattr(ctx.planner, "conclude", None)
    if conclude is not None:
        trajectory = await conclude(
            PlanInput(
                media=state["media"],
                evidence=evidence,
                tools=applicable_tools(state, ctx),
                round=state.get("round", 0),
                max_rounds=ctx.max_rounds,
                rounds=state.get("rounds", []),
                trajectory=trajectory,
                last_queries=state.get("last_queries", []),
            )
        )
    assert ctx.captioner is not None, "the Detective always sets a captioner"
    out = await ctx.captioner.caption(
        CaptionJob(media=state["media"], evidence=evidence, trajectory=trajectory, options=ctx.captioner_options)
    )
    return {
        "caption": out.caption,
        "caption_markdown": out.markdown,
        "trajectory": trajectory + out.trajectory,
        "notes": out.notes,
        "caption_prompt_hash": out.prompt_hash,
        "stop_reason": state.get("stop_reason") or "finished",
    }


def _no_evidence(source: str, missing: list[str], evidence: Evidence) -> str:
    """The error of a clip no observer could examine: which modality, and why each observer failed."""
    causes = "; ".join(dict.fromkeys(f.error for f in evidence.failures)) or "no observer was asked"
    return f"{source}: no observer succeeded on its {' and '.join(missing)}, so there is nothing to caption ({causes})"


def build_graph() -> StateGraph:
    """The uncompiled Detective graph."""
    g = StateGraph(
        DetectiveState, context_schema=DetectiveContext, input_schema=DetectiveInput, output_schema=DetectiveOutput
    )
    g.add_node("plan", plan)
    g.add_node("query", query)
    g.add_node("observe", observe)
    g.add_node("synthesize", synthesize)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", after_plan, ["query", "synthesize"])
    g.add_conditional_edges("query", fan_out, ["observe", "plan", "synthesize"])
    g.add_edge("observe", "plan")
    g.add_edge("synthesize", END)
    return g


#: The compiled Detective graph (what ``langgraph.json`` and ``omni-detective graph`` point at).
graph = build_graph().compile(name="detective")
