"""The ``vision_llm`` tool: ask an OpenAI-compatible vision model about frames sampled over a span."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any, ClassVar

import numpy as np

from detective import media as dmedia
from detective.models import MediaInfo, Modality, Observation, Query, TimeSpan
from detective.models import format_time as clock
from detective.tools import QuestionTool, SpanInput, ToolError

SYSTEM_PROMPT = (
    "You are a visual observer. You see only the video frames you are given, each labelled with its time in "
    "the clip, and know nothing else about the clip. Answer the question factually and impersonally, about "
    "what is visible only: people, objects, actions, places, on-screen text (quote it exactly), colours, "
    "camera and scene changes, with the frame times that show them. If something cannot be seen or "
    "determined from these frames, say so plainly instead of guessing. Do not describe sound."
)


def sample_times(span: TimeSpan, max_frames: int, min_gap: float = 0.5) -> list[float]:
    """Up to ``max_frames`` instants spread evenly over ``span``: the centres of equal parts, so a cut at the
    span's edge is never sampled; at most one every ``min_gap`` seconds on short spans."""
    count = max(1, min(max_frames, int(span.duration / min_gap)))
    step = span.duration / count
    return [round(span.start + (i + 0.5) * step, 3) for i in range(count)]


def jpeg_data_url(rgb: np.ndarray, quality: int = 85) -> str:
    """A ``data:image/jpeg;base64,…`` URL of an RGB uint8 frame."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(out, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


class VisionLLMTool(QuestionTool):
    """Asks the ``vision`` role's model a question about up to ``max_frames`` frames of the span.

    Frames are taken evenly over the span (the whole clip when none), downscaled to ``max_side`` and sent as
    JPEG ``image_url`` parts, each preceded by a ``Frame at MM:SS.mmm`` text part; the answer becomes one
    ``description`` observation whose payload lists the frame times.
    """

    name: ClassVar[str] = "vision_llm"
    description: ClassVar[str] = (
        "Ask a vision-language model a question about what can be seen in frames sampled over a span: "
        "people, objects, actions, settings, on-screen text. Arguments: question, optional start/end span."
    )
    modalities: ClassVar[tuple[Modality, ...]] = ("video",)
    version: ClassVar[str] = "0.2.0"
    system_prompt: ClassVar[str] = SYSTEM_PROMPT
    model_noun: ClassVar[str] = "vision model"
    model_inputs: ClassVar[tuple[str, ...]] = ("image",)
    role: ClassVar[str] = "vision"
    reads_url: ClassVar[bool] = True  # a URL goes to the model as it is, or is decoded as a stream

    def __init__(
        self,
        *,
        max_frames: int = 8,
        max_side: int = 768,
        jpeg_quality: int = 85,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.max_frames = max_frames
        self.max_side = max_side
        self.jpeg_quality = jpeg_quality
        self.temperature = temperature
        self.max_tokens = max_tokens

    async def observe(self, media: MediaInfo, query: Query) -> list[Observation]:  # type: ignore[override]
        """One ``description`` observation over the asked span."""
        if not media.has_video:
            raise ToolError(f"vision_llm: {media.source} has no video stream; the vision model does not apply")
        question = self.question_of(media, query)
        span = self.span_of(media, query, SpanInput.model_validate(query.arguments))
        try:
            frames = await asyncio.to_thread(self._frames, media.path or media.source, span)
        except dmedia.MediaError as exc:
            raise ToolError(f"vision_llm: could not decode frames: {exc}") from exc
        if not frames:
            raise ToolError(f"vision_llm: {media.source}: no frame could be decoded in {span.start}-{span.end}s")
        content: list[dict[str, Any]] = []
        for t, url in frames:
            content.append({"type": "text", "text": f"Frame at {clock(t)}"})
            content.append({"type": "image_url", "image_url": {"url": url}})
        content.append({"type": "text", "text": f"Question: {question}"})
        return [await self.ask(media, span, content, {"question": question, "frame_times": [t for t, _ in frames]})]

    def _frames(self, path: str, span: TimeSpan) -> list[tuple[float, str]]:
        """Decoded frames as ``(true time, JPEG data URL)``; instants landing on the same frame are sent once."""
        out: list[tuple[float, str]] = []
        for t, rgb in dmedia.frames_at(path, sample_times(span, self.max_frames), max_side=self.max_side):
            if out and abs(out[-1][0] - t) < 1e-6:
                continue
            out.append((round(t, 3), jpeg_data_url(rgb, self.jpeg_quality)))
        return out
