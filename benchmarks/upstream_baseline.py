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
    {"tool_name": "LALM", "description": "get the answer from an audio clip and a question"},
    {"tool_name": "ASR", "description": "Automatic speech recognition."},
    {"tool_name": "OCR", "description": "Optical character recognition."},
]
#: Upstream's agent system prompt as released (its length matters: the whole history is resent every turn).
SYSTEM = """You are a world-class audio detective. Your mission is to meticulously extract every last detail from a sound recording and generate a definitive, detailed description of this unknown sound clip.

**Focus on:**

1.  **Signal-Level:** The physical characteristics of the recording itself (e.g., is it high or low fidelity, is there clipping, static, hiss, hum, or other artifacts? What is the estimated frequency range?).
2.  **Perception-Level:** How the audio is perceived by a human ear (e.g., loudness, pitch, timbre, rhythm, clarity of speech, the spatial location of sounds).
3.  **Semantic-Level:** The explicit meaning and events within the audio (e.g., the specific words spoken, identifiable sounds like a "door slamming" or a "dog barking," the melody and instrumentation of music).
4.  **Cultural-Level:** The broader social and cultural context (e.g., the language and accent of speakers, the genre of music and its potential era/origin, the social setting implied by background sounds).

Please note that this breakdown into levels is merely meant to provide you with some areas of focus. Your final description should not adhere to this structure, nor is it limited to these points.

**Your Method:**

You cannot listen to the audio directly. Instead, you have access to several independent observers who have listened to it. You can interrogate them to gather clues.

- You have a total of **10 inquiries**.
- You have specific analysis tools from **{tools}**.
- For each turn, you must select **one tool** and ask **one question**, either general or specific. Question examples: "What language is being spoken?", "Describe the background music.", "Did you hear any sounds other than speech?", "What was the emotional tone of the woman's voice?".
- **Crucially, the observers are not perfect.** Their reports may be incomplete, biased, or contain errors. You must act as a detective: cross-reference their answers, identify contradictions, and build a case for what is actually in the audio.

**Output format each turn (JSON):**

```json
{{
  "tool_name": "<tool_name_from_tool_list>",
  "question": "<your_question_text>"
}}
```

**Your Final Output:**

When you have used all 10 inquiries (i.e., when 0 remain), you must stop asking questions and produce your final description.

Your final output must be exceedingly detailed. Provide a chronological storyline of every noticeable element within the audio, including but not limited to a full speech-to-text transcription, and all significant audio events. This storyline, however, is merely a foundation; your comprehensive description must extend far beyond this basic information.

Do not output any additional information."""  # noqa: E501 - upstream's text as released
FIRST = (
    "The investigation has started. Please give the first question. You can start with a general question like "
    '"Describe the audio clip as detailed as possible."\nInquiries remaining: 10 \nTool and Question:'
)
FINAL = "The investigation is complete. Please give the detailed description of the audio clip."
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
            and "investigation is complete" not in last
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
    """One stateless observer call (only ``LALM`` works, as released)."""
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
        {"role": "system", "content": SYSTEM.format(tools=json.dumps(TOOLS[:1]))},
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
        remaining = TURNS - turn - 1
        tail = f"Inquiries remaining: {remaining} \nTool and Question:" if remaining else FINAL
        messages.append({"role": "user", "content": f"Observation: {observation}\n{tail}"})
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
