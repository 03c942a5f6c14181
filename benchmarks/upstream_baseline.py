"""A small, faithful re-implementation of upstream Omni-Detective's loop, as a speed baseline.

As released (see docs/reference upstream-notes): one growing chat with one agent model; each turn the agent must
reply with JSON ``{"tool_name", "question"}`` (fences stripped, keys and tool validated, no function calling; the
tool list pasted into the system prompt); exactly 10 query → observation turns with no early stop, each followed
by one stateless call of the ``LALM`` tool (an audio LLM with ``input_audio``); then one more call writes the
caption. A thread pool over items, output appended under a lock, retries at a fixed 0.1 s (capped here at 1000
like upstream). Only the API key/URL handling differs: we pass the loopback server's URL.

:class:`UpstreamResponder` lets the loopback server answer this dialogue (agent turns get the JSON reply).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai

TOOLS = [
    {"tool_name": "LALM", "description": "A large audio language model that answers questions about the audio."},
    {"tool_name": "ASR", "description": "Automatic speech recognition."},
    {"tool_name": "OCR", "description": "Optical character recognition."},
]
SYSTEM = (
    "You are a world-class audio detective who cannot listen. You interrogate imperfect, independent observers "
    "and cross-check them (signal, perception, semantic and cultural levels). Tools:\n{tools}\n"
    'Each turn reply with JSON only: {{"tool_name": <tool>, "question": <question>}}.'
)
FIRST = "Begin the investigation. Inquiries remaining: 10"
FINAL = (
    "The inquiries are over. Write the final description: a chronological storyline of every noticeable "
    "element with a full transcription."
)
TURNS = 10
RETRIES = 1000


class UpstreamResponder:
    """Wraps a responder: upstream agent turns (system prompt asking for ``tool_name`` JSON) get a JSON query."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        messages = body.get("messages", [])
        system = messages[0].get("content") if messages and messages[0].get("role") == "system" else ""
        last = messages[-1].get("content") if messages else ""
        if (
            not body.get("tools")
            and isinstance(system, str)
            and '"tool_name"' in system
            and isinstance(last, str)
            and "final description" not in last
        ):
            turn = sum(1 for m in messages if m.get("role") == "assistant") + 1
            reply = json.dumps({"tool_name": "LALM", "question": f"Turn {turn}: what is heard, and how loud?"})
            return "agent", {"role": "assistant", "content": f"```json\n{reply}\n```"}
        return self.inner(body)


def _create(client: openai.OpenAI, **kwargs: Any) -> Any:
    for _ in range(RETRIES):
        try:
            return client.chat.completions.create(**kwargs)
        except openai.OpenAIError:
            time.sleep(0.1)
    return None


def _parse(content: str) -> dict[str, str] | None:
    text = re.sub(r"^```(?:json)?|```$", "", content.strip(), flags=re.M).strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or set(data) != {"tool_name", "question"}:
        return None
    if data["tool_name"] not in {t["tool_name"] for t in TOOLS}:
        return None
    return data


def _tool(client: openai.OpenAI, name: str, question: str, audio: str) -> str | None:
    if name != "LALM":
        return "This tool is not available."
    content = [
        {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
        {"type": "text", "text": f"Question: {question}"},
    ]
    reply = _create(client, model="qwen3-omni-flash", messages=[{"role": "user", "content": content}])
    return reply.choices[0].message.content if reply else None


def investigate(client: openai.OpenAI, source: str) -> list[dict[str, Any]]:
    """Upstream's agent loop for one clip: 10 turns, then the final caption; returns the trajectory."""
    audio = "data:audio/wav;base64," + base64.b64encode(Path(source).read_bytes()).decode()
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM.format(tools=json.dumps(TOOLS))},
        {"role": "user", "content": FIRST},
    ]
    for turn in range(TURNS):
        while True:
            reply = _create(client, model="gpt-4.1-2025-04-14", messages=messages)
            content = reply.choices[0].message.content if reply else ""
            query = _parse(content or "")
            if query is not None:
                break
        messages.append({"role": "assistant", "content": content})
        observation = _tool(client, query["tool_name"], query["question"], audio)
        messages.append(
            {"role": "user", "content": f"Observation: {observation}\nInquiries remaining: {TURNS - turn - 1}"}
        )
    messages.append({"role": "user", "content": FINAL})
    reply = _create(client, model="gpt-4.1-2025-04-14", messages=messages)
    messages.append({"role": "assistant", "content": reply.choices[0].message.content if reply else None})
    return messages


def run_upstream(manifest: Path, out: Path, base_url: str, workers: int) -> dict[str, Any]:
    """Process ``manifest`` upstream-style; returns wall time and per-clip seconds."""
    client = openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0)
    items = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    lock = threading.Lock()
    seconds: list[float] = []
    failed = 0

    def process(item: dict[str, Any]) -> None:
        nonlocal failed
        started = time.perf_counter()
        try:
            trajectory = investigate(client, item["url"])
        except Exception as exc:  # upstream prints and drops the item
            print(f"item {item.get('id')} failed: {exc}")
            with lock:
                failed += 1
            return
        record = {**item, "omni_detective_trajectory": trajectory}
        with lock, out.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
            seconds.append(time.perf_counter() - started)

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(process, items))
    return {
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "clip_seconds": seconds,
        "failed": failed,
    }
