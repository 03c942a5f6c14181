"""The default responder: :class:`ScriptedDetective` plays every role of a Detective run (planner, observer,
captioner) deterministically, so the same request always gets the same answer."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

#: A responder maps a request body to ``(kind, message)``: the kind is counted, the message is the assistant
#: message (``{"role": "assistant", "content": ..., "tool_calls": [...]}``) of the reply.
Responder = Callable[[dict[str, Any]], tuple[str, dict[str, Any]]]


def request_kind(body: dict[str, Any]) -> str:
    """``planner`` when the request offers tools or asks for ``tool_name`` JSON replies, ``observer`` when it
    carries audio or images, else ``captioner``."""
    if body.get("tools") or _json_planner_tools(body) is not None:
        return "planner"
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") in {"input_audio", "image_url", "video_url"}:
                    return "observer"
    return "captioner"


_JSON_TOOLS = re.compile(r"You have these analysis tools: (\[.*?\])\n", re.S)


def _json_planner_tools(body: dict[str, Any]) -> list[str] | None:
    """The tool names a JSON-mode planner prompt (the LLM planner without function calling) lists, else ``None``."""
    messages = body.get("messages") or []
    system = messages[0].get("content") if messages and messages[0].get("role") == "system" else None
    match = _JSON_TOOLS.search(system) if isinstance(system, str) else None
    if match is None:
        return None
    try:
        return [t["tool_name"] for t in json.loads(match.group(1)) if isinstance(t, dict) and "tool_name" in t]
    except (json.JSONDecodeError, TypeError):
        return None


def _rounds_done(body: dict[str, Any]) -> int:
    """Planner rounds already played: assistant turns with tool calls, or ``at most M rounds`` in the system
    prompt less ``Inquiries remaining: R`` in the last turn (a compact prompt keeps only the last exchange)."""
    messages = body.get("messages") or []
    done = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    system = messages[0].get("content") if messages and messages[0].get("role") == "system" else ""
    last = messages[-1].get("content") if messages else ""
    most = re.search(r"at most (\d+) rounds", system) if isinstance(system, str) else None
    left = re.findall(r"Inquiries remaining: (\d+)", last) if isinstance(last, str) else []
    if most and left:
        done = max(done, int(most.group(1)) - int(left[-1]))
    return done


def _text_of(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(parts)


def _stamp(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60.0)
    return f"{int(minutes):02d}:{rest:06.3f}"


class ScriptedDetective:
    """Answers every role of a Detective run, deterministically (the same request gets the same answer).

    - planner (request with ``tools``): for the first ``rounds`` rounds (counted as the assistant turns with
      tool calls already in the conversation, or from ``Inquiries remaining``) it calls up to ``calls_per_round``
      of the offered functions other than ``finish`` (all of them by default), with arguments built from each
      function's schema; then it calls ``finish`` (or answers in text if no ``finish`` is offered). A JSON-mode
      planner prompt (no ``tools``, a ``tool_name`` list in the system prompt) gets the same as a JSON list of
      ``{"tool_name", "question"}``, then ``{"finish": true}``.
    - observer (audio or image parts): a short description naming the question.
    - captioner (anything else): a structured caption in the canonical Markdown format, spanning the clip's
      duration when the prompt states one.
    """

    def __init__(
        self, rounds: int = 2, calls_per_round: int | None = None, calls_per_tool: int = 1, answer_bytes: int = 0
    ) -> None:
        self.rounds = rounds
        self.calls_per_round = calls_per_round
        #: Questions to each offered function per round (a planner asking several things at once).
        self.calls_per_tool = calls_per_tool
        #: Observer answers are padded to about this many bytes (0: short), like a real model's paragraphs.
        self.answer_bytes = answer_bytes

    def __call__(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kind = request_kind(body)
        if kind == "planner":
            return kind, self.plan(body)
        if kind == "observer":
            return kind, {"role": "assistant", "content": self.observe(body)}
        return kind, {"role": "assistant", "content": self.caption(body)}

    def plan(self, body: dict[str, Any]) -> dict[str, Any]:
        """Tool calls for the offered functions, or ``finish`` once ``rounds`` rounds are done."""
        done = _rounds_done(body)
        listed = _json_planner_tools(body)
        if not body.get("tools") and listed is not None:
            names = listed[: self.calls_per_round] if self.calls_per_round is not None else listed
            if done >= self.rounds or not names:
                return {"role": "assistant", "content": '{"finish": true}'}
            asks = [{"tool_name": n, "question": f"Round {done + 1}: what can be heard in the clip?"} for n in names]
            return {"role": "assistant", "content": json.dumps(asks)}
        functions = [t["function"] for t in body.get("tools", []) if t.get("type", "function") == "function"]
        names = [f["name"] for f in functions]
        digest = hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
        probes = [f for f in functions if f["name"] != "finish"]
        if self.calls_per_round is not None:
            probes = probes[: self.calls_per_round]
        if done >= self.rounds or not probes:
            if "finish" not in names:
                return {"role": "assistant", "content": "The case is closed: the evidence is sufficient."}
            call = _call(f"call_{digest}_fin", "finish", {"reason": "the evidence covers the clip"})
            return {"role": "assistant", "content": None, "tool_calls": [call]}
        calls = []
        for i, fn in enumerate(probes):
            for j in range(self.calls_per_tool):
                arguments = _arguments(fn, done + 1)
                if j and "question" in arguments:
                    arguments["question"] += f" (detail {j + 1})"
                calls.append(_call(f"call_{digest}_{done}_{i}_{j}", fn["name"], arguments))
        return {"role": "assistant", "content": None, "tool_calls": calls}

    def observe(self, body: dict[str, Any]) -> str:
        """A short description naming the question it answers and a fingerprint of the media it was sent."""
        media = [
            json.dumps(part, sort_keys=True)
            for m in body.get("messages", [])
            if isinstance(m.get("content"), list)
            for part in m["content"]
            if isinstance(part, dict) and part.get("type") != "text"
        ]
        fingerprint = hashlib.sha1("".join(media).encode()).hexdigest()[:8]
        question = _text_of(body).strip().splitlines()
        asked = question[-1][:120] if question else "the clip"
        answer = (
            f"A steady mid-pitched tone with faint background hiss; no speech is audible "
            f"(signal {fingerprint}). Asked: {asked}"
        )
        filler = (
            " The tone holds a constant pitch and loudness from start to end, with no clipping or distortion;"
            " the hiss sits well below it, broadband and even, as from a quiet recording chain."
        )
        while len(answer) < self.answer_bytes:
            answer += filler
        return answer

    def caption(self, body: dict[str, Any]) -> str:
        """A valid structured caption in the canonical format."""
        text = _text_of(body)
        match = re.search(r"duration[^0-9]{0,20}([0-9]+(?:\.[0-9]+)?)", text, flags=re.IGNORECASE)
        duration = float(match.group(1)) if match else 1.0
        half = duration / 2.0
        return (
            "## Storyline\n"
            f"{_stamp(0.0)} - {_stamp(half)}\n"
            "A steady mid-pitched tone sounds over faint background hiss.\n"
            f"{_stamp(half)} - {_stamp(duration)}\n"
            "The tone continues unchanged until the clip ends.\n"
            "## Speakers and Transcript\n"
            "No speech is present in this clip.\n"
            "## Audio Quality\n"
            "Clean, mono, with a faint constant hiss."
        )


def _call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def _arguments(fn: dict[str, Any], round_no: int) -> dict[str, Any]:
    props = (fn.get("parameters") or {}).get("properties") or {}
    args: dict[str, Any] = {}
    for name, schema in props.items():
        types = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", []) if isinstance(s, dict)}
        if name == "question" or (name in (fn.get("parameters") or {}).get("required", []) and "string" in types):
            args[name] = f"Round {round_no}: what can be heard in the clip, and how loud is it?"
    return args
