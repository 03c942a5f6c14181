"""LLMPlanner: an OpenAI-compatible chat model interrogates the observers.

With function calling (the default), each applicable tool is one function and ``finish`` closes the case; several
calls per turn are welcome. For endpoints without function calling it falls back to JSON replies, including the
upstream Omni-Detective form ``{"tool_name": ..., "question": ...}``, and then the conversation is byte-for-byte the
upstream ``omni_detective_trajectory`` shape (``Observation: …`` / ``Inquiries remaining: N``).
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import structlog

from detective.evidence import digest
from detective.llm import LLMError
from detective.models import Evidence, Query, TimeSpan
from detective.planning import Plan, PlanInput, Planner
from detective.prompts import (
    CLOSING,
    DETECTIVE_SYSTEM,
    FIRST_TURN,
    FUNCTION_RULES,
    JSON_RULES,
    NEXT_TURN,
    medium_words,
    prompt_hash,
)
from detective.runtime import current_services
from detective.tools import Tool

log = structlog.get_logger("detective.planner")

FINISH = {
    "type": "function",
    "function": {
        "name": "finish",
        "description": "Close the case: the evidence is complete and cross-checked.",
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string", "description": "Why the case is closed."}},
        },
    },
}
#: Repair attempts when a reply cannot be turned into queries.
MAX_REPAIRS = 2
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class PlannerReplyError(ValueError):
    """The planner model's reply could not be read as tool calls or JSON queries."""


class LLMPlanner(Planner):
    """Plans with an LLM. ``function_calling=None`` tries functions first and falls back to JSON on refusal."""

    name: ClassVar[str] = "llm"
    needs_api: ClassVar[bool] = True

    def __init__(self, function_calling: bool | None = None, role: str = "planner", temperature: float = 0.0):
        self.function_calling = function_calling
        self.role = role
        self.temperature = temperature

    @property
    def prompt_hash(self) -> str:
        """Hash of the planner's prompt templates (provenance)."""
        return prompt_hash(DETECTIVE_SYSTEM, FUNCTION_RULES, JSON_RULES, FIRST_TURN, NEXT_TURN, CLOSING)

    def _uses_functions(self) -> bool:
        return self.function_calling is not False

    # --- conversation -----------------------------------------------------------------------------------

    def _system(self, inp: PlanInput) -> str:
        words = medium_words(inp.media.has_video)
        m = inp.media
        facts = f"{m.duration:.3f} s, " + ", ".join(
            part
            for part in (
                f"video {m.width}x{m.height} at {m.fps:.3g} fps"
                if m.has_video and m.width and m.fps
                else ("video" if m.has_video else ""),
                f"audio {m.audio_sample_rate} Hz"
                if m.has_audio and m.audio_sample_rate
                else ("audio" if m.has_audio else "no audio"),
            )
            if part
        )
        text = DETECTIVE_SYSTEM.format(clip_facts=facts, rounds=inp.max_rounds, **words)
        if self._uses_functions():
            return text + "\n\n" + FUNCTION_RULES
        tools = json.dumps([{"tool_name": t.name, "description": t.description} for t in inp.tools], ensure_ascii=False)
        return text + "\n\n" + JSON_RULES.format(tools=tools)

    def _functions(self, tools: list[Tool]) -> list[dict[str, Any]]:
        out = []
        for tool in tools:
            spec = tool.spec()
            params = {k: v for k, v in spec.parameters.items() if k != "title"}
            out.append(
                {
                    "type": "function",
                    "function": {
                        "name": spec.name,
                        "description": f"{spec.description} (needs {', '.join(spec.modalities) or 'nothing'})",
                        "parameters": params,
                    },
                }
            )
        return [*out, FINISH]

    @staticmethod
    def _observation_text(evidence: Evidence, q: Query) -> str:
        key = q.key
        found = [o for o in evidence.observations if o.query_key == key]
        failures = [f for f in evidence.failures if f.query_key == key]
        if not found and failures:
            return f"None (the observer failed: {failures[-1].error})"
        if not found:
            return "Nothing was observed."
        if len(found) == 1 and (found[0].span is None or q.span == found[0].span) and found[0].kind == "description":
            return found[0].content
        lines = []
        for o in sorted(found, key=lambda o: o.span.start if o.span else -1.0):
            when = f"[{o.span.start:.2f}-{o.span.end:.2f}s] " if o.span else ""
            lines.append(f"{when}{o.kind}: {o.content}")
        return "\n".join(lines)

    def _answers(self, inp: PlanInput, trajectory: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tool messages answering the last assistant message's function calls."""
        last = next((m for m in reversed(trajectory) if m.get("role") == "assistant"), None)
        if not last or not last.get("tool_calls"):
            return []
        answered = {m.get("tool_call_id") for m in trajectory if m.get("role") == "tool"}
        out = []
        for call in last["tool_calls"]:
            if call["id"] in answered:
                continue
            name = call["function"]["name"]
            if name == "finish":
                content = "Case closed."
            else:
                try:
                    q = _query_from_call(name, call["function"].get("arguments") or "{}")
                    content = self._observation_text(inp.evidence, q)
                except PlannerReplyError as exc:
                    content = f"Error: {exc}"
            out.append({"role": "tool", "tool_call_id": call["id"], "content": content})
        return out

    def _user_observations(self, inp: PlanInput) -> str:
        parts = [f"Observation: {self._observation_text(inp.evidence, q)}" for q in inp.last_queries]
        return "\n".join(parts)

    # --- planning ---------------------------------------------------------------------------------------

    async def plan(self, inp: PlanInput) -> Plan:
        """Ask the model for the next queries."""
        words = medium_words(inp.media.has_video)
        remaining = inp.max_rounds - inp.round + 1
        msgs = list(inp.trajectory)
        if not msgs:
            msgs = [
                {"role": "system", "content": self._system(inp)},
                {"role": "user", "content": FIRST_TURN.format(remaining=remaining, **words)},
            ]
        elif self._uses_functions():
            msgs += self._answers(inp, msgs)
            board = digest(inp.evidence) if inp.evidence.contradictions else ""
            note = f"Contradictions so far:\n{board}\n" if board else ""
            msgs.append({"role": "user", "content": note + NEXT_TURN.format(remaining=remaining)})
        else:
            observed = self._user_observations(inp)
            msgs.append(
                {
                    "role": "user",
                    "content": (observed + "\n" if observed else "") + NEXT_TURN.format(remaining=remaining),
                }
            )
        llm = current_services().llm(self.role)
        tools = {t.name: t for t in inp.tools}
        for attempt in range(MAX_REPAIRS + 1):
            reply = await self._ask(llm, msgs, inp)
            msgs.append(reply.message)
            try:
                queries, finish = self._read(reply, tools)
                return Plan(
                    queries=queries, finish=finish, trajectory=msgs, rationale="model called finish" if finish else ""
                )
            except PlannerReplyError as exc:
                log.info("planner reply unusable", error=str(exc), attempt=attempt + 1)
                if reply.tool_calls:
                    msgs += [
                        {"role": "tool", "tool_call_id": c["id"], "content": f"Error: {exc}"} for c in reply.tool_calls
                    ]
                msgs.append(
                    {
                        "role": "user",
                        "content": f"Your reply could not be used: {exc}. "
                        "Reply again, following the required format exactly.",
                    }
                )
        return Plan(
            finish=True, trajectory=msgs, rationale=f"planner replies stayed unusable after {MAX_REPAIRS} repairs"
        )

    async def _ask(self, llm: Any, msgs: list[dict[str, Any]], inp: PlanInput) -> Any:
        if not self._uses_functions():
            return await llm.chat(msgs, temperature=self.temperature)
        try:
            return await llm.chat(msgs, tools=self._functions(inp.tools), temperature=self.temperature)
        except LLMError as exc:
            # An endpoint that rejects function calling answers 400/404/422 at once: switch to JSON replies.
            if self.function_calling is None and exc.status in {400, 404, 422}:
                log.warning("endpoint rejected function calling; falling back to JSON replies", error=str(exc))
                self.function_calling = False
                msgs[0] = {"role": "system", "content": self._system(inp)}
                return await llm.chat(msgs, temperature=self.temperature)
            raise

    def _read(self, reply: Any, tools: dict[str, Tool]) -> tuple[list[Query], bool]:
        if reply.tool_calls:
            queries, finish = [], False
            for call in reply.tool_calls:
                name = call["function"]["name"]
                if name == "finish":
                    finish = True
                    continue
                if name not in tools:
                    raise PlannerReplyError(f"unknown tool {name!r}; tools: {', '.join(tools)}")
                queries.append(_query_from_call(name, call["function"].get("arguments") or "{}"))
            return queries, finish and not queries
        return parse_json_reply(reply.content or "", tools)

    async def conclude(self, inp: PlanInput) -> list[dict[str, Any]]:
        """Close the conversation: answer pending calls / report the last observations, then ask for the caption."""
        msgs = list(inp.trajectory)
        if not msgs:
            return msgs
        closing = CLOSING.format(**medium_words(inp.media.has_video))
        if self._uses_functions():
            msgs += self._answers(inp, msgs)
            msgs.append({"role": "user", "content": closing})
        else:
            observed = self._user_observations(inp) if msgs[-1].get("role") == "assistant" else ""
            msgs.append({"role": "user", "content": (observed + "\n" if observed else "") + closing})
        return msgs


def _query_from_call(name: str, arguments: str) -> Query:
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError as exc:
        raise PlannerReplyError(f"arguments of {name} are not valid JSON ({exc.msg})") from exc
    if not isinstance(args, dict):
        raise PlannerReplyError(f"arguments of {name} must be a JSON object")
    return _query(name, args)


def _query(name: str, args: dict[str, Any]) -> Query:
    args = dict(args)
    question = args.pop("question", None)
    start, end = args.pop("start", None), args.pop("end", None)
    span = None
    if start is not None or end is not None:
        try:
            s = float(start or 0.0)
            span = TimeSpan(start=s, end=float(end) if end is not None else s)
        except (TypeError, ValueError) as exc:
            raise PlannerReplyError(f"bad span for {name}: {exc}") from exc
    return Query(tool=name, question=str(question) if question is not None else None, span=span, arguments=args)


def parse_json_reply(text: str, tools: dict[str, Tool]) -> tuple[list[Query], bool]:
    """Read a JSON-mode reply: one ``{"tool_name", "question"}``, a list of them, or ``{"finish": true}``."""
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    data: Any = None
    for candidate in (body, _outermost(body)):
        if candidate is None:
            continue
        try:
            data = json.loads(candidate)
            break
        except json.JSONDecodeError:
            continue
    if data is None:
        raise PlannerReplyError('no JSON object found; expected {"tool_name": ..., "question": ...}')
    items = data if isinstance(data, list) else [data]
    queries: list[Query] = []
    finish = False
    for item in items:
        if not isinstance(item, dict):
            raise PlannerReplyError("each item must be a JSON object")
        if item.get("finish") is True or item.get("tool_name") == "finish":
            finish = True
            continue
        name = item.get("tool_name") or item.get("tool")
        if name not in tools:
            raise PlannerReplyError(f"unknown tool_name {name!r}; tools: {', '.join(tools)}")
        args = {k: v for k, v in item.items() if k not in {"tool_name", "tool"}}
        queries.append(_query(name, args))
    return queries, finish and not queries


def _outermost(text: str) -> str | None:
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None
    start = min(starts)
    end = max(text.rfind("}"), text.rfind("]"))
    return text[start : end + 1] if end > start else None
