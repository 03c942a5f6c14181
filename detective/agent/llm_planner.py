"""LLMPlanner: an OpenAI-compatible chat model interrogates the observers.

With function calling (the default), each applicable tool is one function and ``finish`` closes the case; several
calls per turn are welcome. For endpoints without function calling it falls back to JSON replies, including the
upstream Omni-Detective form ``{"tool_name": ..., "question": ...}``, and then the conversation is byte-for-byte the
upstream ``omni_detective_trajectory`` shape (``Observation: …`` / ``Inquiries remaining: N``).
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any, ClassVar

import structlog

from detective.agent.prompts import (
    BOARD_FIRST_TURN,
    CLOSING,
    DETECTIVE_SYSTEM,
    FIRST_TURN,
    FUNCTION_RULES,
    JSON_RULES,
    NEXT_TURN,
    medium_words,
    prompt_hash,
)
from detective.evidence.digest import CONTRADICTIONS, digest, planner_digest
from detective.llm.capabilities import BYTES_PER_TOKEN, MAX_REPAIRS, estimate_tokens
from detective.llm.client import CONTEXT_LENGTH_EXCEEDED, LLMError
from detective.models import Evidence, Query, TimeSpan
from detective.planning import Plan, PlanInput, Planner
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
#: Tokens the evidence digest in a planner prompt may take at most (less when the model's context is small).
DIGEST_TOKENS = 800
#: Tokens kept free in a prompt for what estimates miss (chat-template tokens …).
PROMPT_MARGIN_TOKENS = 64
#: Characters of a bad reply quoted back in a repair turn.
REPAIR_ECHO_CHARS = 1000
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class PlannerReplyError(ValueError):
    """The planner model's reply could not be read as tool calls or JSON queries."""


class InvalidCalls(PlannerReplyError):
    """Tool calls whose arguments the tool rejects: ``invalid`` maps a call's id to the validation message and
    ``names`` to its tool; ``queries`` are the reply's valid calls."""

    def __init__(self, invalid: dict[str, str], names: dict[str, str], queries: list[Query]) -> None:
        self.invalid, self.names, self.queries = invalid, names, queries
        listed = "; ".join(f"{names[k]}: {m}" for k, m in invalid.items())
        super().__init__(f"invalid arguments ({listed})")


class LLMPlanner(Planner):
    """Plans with an LLM. ``function_calling=None`` tries functions first and falls back to JSON on refusal."""

    name: ClassVar[str] = "llm"
    needs_api: ClassVar[bool] = True

    def __init__(
        self,
        function_calling: bool | None = None,
        role: str = "planner",
        temperature: float = 0.0,
        digest_tokens: int = DIGEST_TOKENS,
    ):
        self.function_calling = function_calling
        self.role = role
        self.temperature = temperature
        self.digest_tokens = digest_tokens

    @property
    def prompt_hash(self) -> str:
        """Hash of the planner's prompt templates (provenance)."""
        return prompt_hash(
            DETECTIVE_SYSTEM, FUNCTION_RULES, JSON_RULES, FIRST_TURN, NEXT_TURN, CLOSING, BOARD_FIRST_TURN
        )

    # --- conversation -----------------------------------------------------------------------------------

    def _system(self, inp: PlanInput, functions: bool) -> str:
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
        if functions:
            return text + "\n\n" + FUNCTION_RULES
        tools = json.dumps([{"tool_name": t.name, "description": t.description} for t in inp.tools], ensure_ascii=False)
        return text + "\n\n" + JSON_RULES.format(tools=tools)

    def _functions(self, tools: list[Tool]) -> list[dict[str, Any]]:
        out = []
        for tool in tools:
            spec = tool.spec()
            params = compact_schema(spec.parameters)
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
        # one answer about just what was asked (its span, or the whole clip when no span was asked): its text alone
        whole = q.span is None and all(q.arguments.get(k) is None for k in ("start", "end"))
        if (
            len(found) == 1
            and (found[0].span is None or whole or q.span == found[0].span)
            and found[0].kind == "description"
        ):
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
        tools = {t.name: t for t in inp.tools}
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
                    problem = tools[name].invalid_arguments(q) if name in tools else f"unknown tool {name!r}"
                    content = f"Error: invalid arguments, not run: {problem}" if problem else None
                    content = content or self._observation_text(inp.evidence, q)
                except PlannerReplyError as exc:
                    content = f"Error: {exc}"
            out.append({"role": "tool", "tool_call_id": call["id"], "content": content})
        return out

    def _user_observations(self, inp: PlanInput) -> str:
        parts = [f"Observation: {self._observation_text(inp.evidence, q)}" for q in inp.last_queries]
        return "\n".join(parts)

    # --- the prompt: compact, within the model's context ------------------------------------------------

    def _prompt(
        self, inp: PlanInput, trajectory: list[dict[str, Any]], functions: bool, context: int | None, max_tokens: int
    ) -> list[dict[str, Any]]:
        """What the model is sent this round: the system prompt and first turn, a digest of the evidence gathered
        before the last round (within the token budget), and the last round's exchange as it is recorded.

        The recorded trajectory grows by a whole round each time (upstream's shape); the prompt stays bounded.
        """
        head = trajectory[:2]
        last = _last_exchange(trajectory)
        if not last:
            return list(head)
        recent = _called_keys(last) if functions else {q.key for q in inp.last_queries}
        # rounds before the conversation began are in its first turn's digest (hybrid planning's broad pass)
        began = inp.round - sum(1 for m in trajectory if m.get("role") == "assistant")
        earlier = Evidence(
            observations=[
                o for o in inp.evidence.observations if o.query_key not in recent and (o.round or began) >= began
            ],
            failures=[f for f in inp.evidence.failures if f.query_key not in recent and (f.round or began) >= began],
            contradictions=inp.evidence.contradictions,
        )
        if not earlier.observations and not earlier.failures and not earlier.contradictions:
            return [*head, *last]
        budget = self.digest_tokens
        if context:
            fixed = estimate_tokens(json.dumps([*head, *last])) + (
                estimate_tokens(json.dumps(self._functions(inp.tools))) if functions else 0
            )
            budget = min(budget, context - max_tokens - fixed - PROMPT_MARGIN_TOKENS)
        board = planner_digest(earlier, budget * BYTES_PER_TOKEN)
        note = {"role": "user", "content": f"Evidence gathered before the last round (a digest):\n{board}"}
        return [*head, note, *last]

    # --- planning ---------------------------------------------------------------------------------------

    def _next_turn(self, inp: PlanInput, trajectory: list[dict[str, Any]], functions: bool) -> list[dict[str, Any]]:
        """The recorded conversation with this round's turn added (upstream's shape)."""
        words = medium_words(inp.media.has_video)
        remaining = inp.max_rounds - inp.round + 1
        msgs = list(trajectory)
        if not msgs:
            first = FIRST_TURN.format(remaining=remaining, **words)
            if inp.evidence.observations or inp.evidence.failures:
                board = planner_digest(inp.evidence, self.digest_tokens * BYTES_PER_TOKEN)
                first = BOARD_FIRST_TURN.format(rounds=inp.round - 1, board=board, remaining=remaining)
            return [
                {"role": "system", "content": self._system(inp, functions)},
                {"role": "user", "content": first},
            ]
        msgs[0] = {"role": "system", "content": self._system(inp, functions)}
        if functions:
            msgs += self._answers(inp, msgs)
            board = digest(inp.evidence, CONTRADICTIONS) if inp.evidence.contradictions else ""
            note = f"Contradictions so far:\n{board}\n" if board else ""
            msgs.append({"role": "user", "content": note + NEXT_TURN.format(remaining=remaining)})
        else:
            observed = self._user_observations(inp)
            content = (observed + "\n" if observed else "") + NEXT_TURN.format(remaining=remaining)
            msgs.append({"role": "user", "content": content})
        return msgs

    async def plan(self, inp: PlanInput) -> Plan:
        """Ask the model for the next queries; ``Plan.failed`` says why when no usable reply came.

        Function calling is used unless the endpoint is known not to honour it: a tools request answered without
        tool calls and without usable JSON, or refused with 400/404/422, switches the run to JSON replies. A bad
        reply is repaired at most :data:`MAX_REPAIRS` times, each repair replacing the previous one in the prompt.
        """
        llm = current_services().llm(self.role)
        functions = self._functions_mode(llm)
        trajectory = self._next_turn(inp, list(inp.trajectory), functions)
        tools = {t.name: t for t in inp.tools}
        max_tokens = llm.endpoint.max_tokens or 0
        repair: list[dict[str, Any]] = []
        problem = ""
        overflowed = False
        salvage: tuple[Any, InvalidCalls] | None = None
        for attempt in range(MAX_REPAIRS + 1):
            context = llm.capabilities().context_size
            prompt = self._prompt(inp, trajectory, functions, context, max_tokens) + repair
            try:
                if functions:
                    reply = await llm.chat(prompt, tools=self._functions(inp.tools), temperature=self.temperature)
                else:
                    reply = await llm.chat(prompt, temperature=self.temperature)
            except LLMError as exc:
                if exc.code == CONTEXT_LENGTH_EXCEEDED and not overflowed and exc.context_size:
                    overflowed = True  # the window is learnt now: the next prompt is built to fit it
                    continue
                if self._may_switch(functions, llm) and exc.status in {400, 404, 422} and not exc.code:
                    # An endpoint that rejects function calling answers 400/404/422 at once: switch to JSON replies.
                    log.warning("endpoint rejected function calling; falling back to JSON replies", error=str(exc))
                    functions = self._switch_to_json(llm)
                    trajectory = self._next_turn(inp, list(inp.trajectory), functions)
                    continue
                return Plan(failed=f"planner model failed: {exc}", trajectory=inp.trajectory or None)
            try:
                queries, finish = self._read(reply, tools)
            except InvalidCalls as exc:  # the model's to fix: each bad call is answered with what is wrong
                problem = str(exc)
                log.info("planner called tools with invalid arguments", error=problem, attempt=attempt + 1)
                salvage = (reply, exc)
                repair = self._repair(reply, problem, functions, list(tools), exc)
                continue
            except PlannerReplyError as exc:
                salvage = None
                problem = str(exc)
                log.info("planner reply unusable", error=problem, attempt=attempt + 1)
                if self._may_switch(functions, llm) and not reply.tool_calls:
                    # Tools offered, none called, no usable JSON either: the endpoint ignores function calling.
                    log.warning("planner model ignored function calling; switching to JSON replies")
                    functions = self._switch_to_json(llm)
                    trajectory = self._next_turn(inp, list(inp.trajectory), functions)
                    repair = []
                    continue
                repair = self._repair(reply, problem, functions, list(tools))
                continue
            if functions and reply.tool_calls:
                llm.learn(function_calling=True)
            trajectory.append(reply.message)
            return Plan(
                queries=queries,
                finish=finish,
                trajectory=trajectory,
                rationale="model called finish" if finish else "",
            )
        if salvage is not None and salvage[1].queries:
            reply, invalid = salvage
            trajectory.append(reply.message)
            note = (
                f"round {inp.round}: planner calls still invalid after {MAX_REPAIRS} repairs were not run "
                f"({'; '.join(f'{invalid.names[k]}: {m}' for k, m in invalid.invalid.items())})"
            )
            return Plan(queries=invalid.queries, trajectory=trajectory, notes=[note], rationale=note)
        return Plan(
            failed=f"its replies stayed unusable after {MAX_REPAIRS} repairs ({problem or 'no reply'})",
            trajectory=inp.trajectory or None,
        )

    def _functions_mode(self, llm: Any) -> bool:
        if self.function_calling is not None:
            return self.function_calling
        return llm.capabilities().function_calling is not False

    def _may_switch(self, functions: bool, llm: Any) -> bool:
        """Whether a refusal or a reply without tool calls may switch to JSON replies: only in function mode chosen
        by default, and only while the model has not yet shown that it calls functions."""
        return functions and self.function_calling is None and llm.capabilities().function_calling is not True

    def _switch_to_json(self, llm: Any) -> bool:
        llm.learn(function_calling=False)
        return False

    @staticmethod
    def _repair(
        reply: Any, problem: str, functions: bool, names: list[str], invalid: InvalidCalls | None = None
    ) -> list[dict[str, Any]]:
        """The bad reply and what was wrong with it: replaces any earlier repair, so the prompt does not grow.

        With ``invalid`` calls, each is answered as the tool's result with its validation message, and the valid
        calls of the same reply are answered as not run yet (the model sends the round's calls again)."""
        shape = (
            f"call one or more of the functions {', '.join(names)} or finish"
            if functions
            else 'reply with JSON only: {"tool_name": "<one of ' + ", ".join(names) + '>", "question": "..."}'
        )
        message = dict(reply.message)
        if isinstance(message.get("content"), str) and len(message["content"]) > REPAIR_ECHO_CHARS:
            message["content"] = message["content"][:REPAIR_ECHO_CHARS] + " …"  # a runaway reply is not resent whole
        out: list[dict[str, Any]] = [message]
        if invalid is not None and reply.tool_calls:
            for call in reply.tool_calls:
                bad = invalid.invalid.get(call["id"])
                content = (
                    f"Error: invalid arguments, not run: {bad}. Call {call['function']['name']} again with valid "
                    "arguments, or leave it out."
                    if bad
                    else "Not run yet: other calls of this reply had invalid arguments; call it again with them."
                )
                out.append({"role": "tool", "tool_call_id": call["id"], "content": content})
            out.append({"role": "user", "content": f"Fix the invalid calls and reply again: {shape}."})
            return out
        out += [{"role": "tool", "tool_call_id": c["id"], "content": f"Error: {problem}"} for c in reply.tool_calls]
        out.append({"role": "user", "content": f"Your reply could not be used: {problem}. Reply again: {shape}."})
        return out

    def _read(self, reply: Any, tools: dict[str, Tool]) -> tuple[list[Query], bool]:
        """The reply's queries and whether it closes the case; raises :class:`InvalidCalls` when a tool rejects a
        call's arguments, :class:`PlannerReplyError` when the reply cannot be read at all."""
        if not reply.tool_calls:
            return parse_json_reply(reply.content or "", tools)
        queries, finish = [], False
        invalid: dict[str, str] = {}
        names: dict[str, str] = {}
        for call in reply.tool_calls:
            name = call["function"]["name"]
            if name == "finish":
                finish = True
                continue
            if name not in tools:
                raise PlannerReplyError(f"unknown tool {name!r}; tools: {', '.join(tools)}")
            q = _query_from_call(name, call["function"].get("arguments") or "{}")
            problem = tools[name].invalid_arguments(q)
            if problem:
                invalid[call["id"]], names[call["id"]] = problem, name
            else:
                queries.append(q)
        if invalid:
            raise InvalidCalls(invalid, names, queries)
        return queries, finish and not queries

    async def conclude(self, inp: PlanInput) -> list[dict[str, Any]]:
        """Close the conversation: answer pending calls / report the last observations, then ask for the caption."""
        msgs = list(inp.trajectory)
        if not msgs:
            return msgs
        closing = CLOSING.format(**medium_words(inp.media.has_video))
        last = next((m for m in reversed(msgs) if m.get("role") == "assistant"), None)
        if last is not None and last.get("tool_calls"):
            msgs += self._answers(inp, msgs)
            msgs.append({"role": "user", "content": closing})
        else:
            observed = self._user_observations(inp) if msgs[-1].get("role") == "assistant" else ""
            msgs.append({"role": "user", "content": (observed + "\n" if observed else "") + closing})
        return msgs


def compact_schema(schema: Any) -> Any:
    """A tool's JSON schema as the planner is sent it, the same arguments in fewer prompt bytes: without pydantic's
    ``title`` keys (the names say it already) and the model's own top-level ``description`` (the function's says
    it), and an optional argument that may be null (``anyOf`` of a type and ``null``, default ``null``) as just
    its type: it is not ``required``, so leaving it out is how it is left unset (a null sent still validates)."""
    if not isinstance(schema, dict):
        return _untitled(schema)
    return _untitled({k: v for k, v in schema.items() if k != "description"} if "properties" in schema else schema)


def _untitled(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _untitled(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
        options = out.get("anyOf")
        if (
            isinstance(options, list)
            and len(options) == 2
            and {"type": "null"} in options
            and "default" in out
            and out["default"] is None
        ):
            (kept,) = [o for o in options if o != {"type": "null"}]
            del out["anyOf"], out["default"]
            out = {**kept, **out}
        return out
    if isinstance(schema, list):
        return [_untitled(v) for v in schema]
    return schema


def _called_keys(messages: list[dict[str, Any]]) -> set[str]:
    """Keys of the queries the tool calls in ``messages`` asked (calls that cannot be read are left out)."""
    keys: set[str] = set()
    for message in messages:
        for call in message.get("tool_calls") or []:
            name = call["function"]["name"]
            if name != "finish":
                with contextlib.suppress(PlannerReplyError):
                    keys.add(_query_from_call(name, call["function"].get("arguments") or "{}").key)
    return keys


def _last_exchange(trajectory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trajectory from its last assistant message on (that reply, its answers, the new turn); [] before any."""
    for i in range(len(trajectory) - 1, 1, -1):
        if trajectory[i].get("role") == "assistant":
            return trajectory[i:]
    return []


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
        query = _query(name, args)
        problem = tools[name].invalid_arguments(query)
        if problem:
            raise PlannerReplyError(f"invalid arguments for {name}: {problem}")
        queries.append(query)
    return queries, finish and not queries


def _outermost(text: str) -> str | None:
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None
    start = min(starts)
    end = max(text.rfind("}"), text.rfind("]"))
    return text[start : end + 1] if end > start else None
