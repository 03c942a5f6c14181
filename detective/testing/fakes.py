"""Small deterministic tools and OpenAI reply bodies for tests and examples (no media decoding, no network)."""

from __future__ import annotations

import json
from typing import Any

from detective.models import MediaInfo, Observation, TimeSpan
from detective.tools import QuestionInput, Tool


def completion(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str = "m",
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
) -> dict[str, Any]:
    """An OpenAI chat.completion body."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}_{c['name']}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))},
            }
            for i, c in enumerate(tool_calls)
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class ShotsTool(Tool):
    """Two shots."""

    name = "shots"
    description = "Shot boundaries."
    modalities = ("video",)

    def observe(self, media: MediaInfo, query: Any) -> list[Observation]:
        return [
            Observation(tool=self.name, kind="shot", content=f"shot {i + 1}", span=TimeSpan(start=s, end=e))
            for i, (s, e) in enumerate([(0.0, 5.0), (5.0, 10.0)])
        ]


class OCRTool(Tool):
    """On-screen text that builds on shots (stage 1)."""

    name = "ocr"
    description = "On-screen text."
    modalities = ("video",)
    stage = 1

    def observe(self, media: MediaInfo, query: Any) -> list[Observation]:
        return [
            Observation(
                tool=self.name, kind="text", content="John Smith", span=TimeSpan(start=1.0, end=3.0), confidence=0.95
            )
        ]


class ASRTool(Tool):
    """Speech that mishears the name."""

    name = "asr"
    description = "Speech recognition."
    modalities = ("audio",)

    def observe(self, media: MediaInfo, query: Any) -> list[Observation]:
        return [
            Observation(
                tool=self.name,
                kind="speech",
                content="My name is Jon Smyth.",
                span=TimeSpan(start=1.2, end=2.8),
                confidence=0.9,
            )
        ]


class EchoTool(Tool):
    """A question tool that answers with the question: shows what the observer was asked."""

    name = "echo"
    description = "Answers a question about the audio."
    modalities = ("audio",)
    input_model = QuestionInput
    asks_questions = True

    async def observe(self, media: MediaInfo, query: Any) -> list[Observation]:
        return [
            Observation(tool=self.name, kind="description", content=f"answer to: {query.question}", span=query.span)
        ]


def run_result(source: str, *, caption_markdown: str = "## Storyline\nx", tokens: tuple[int, int] = (100, 20)) -> Any:
    """A finished :class:`~detective.models.RunResult` for ``source`` (a 1 s audio clip, an empty caption) whose
    usage is one model ``m`` with ``tokens`` (prompt, completion): what a fake Detective's ``arun`` returns."""
    from detective.models import Caption, Evidence, Provenance, RunResult, Usage

    usage = Usage()
    usage.add_model("m", *tokens)
    return RunResult(
        media=MediaInfo(source=source, duration=1.0, has_audio=True),
        caption=Caption(),
        caption_markdown=caption_markdown,
        evidence=Evidence(),
        trajectory=[{"role": "assistant", "content": "x"}],
        stop_reason="planner finished",
        usage=usage,
        provenance=Provenance(package_version="0.1.0"),
    )
