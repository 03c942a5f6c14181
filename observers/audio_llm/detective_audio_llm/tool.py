"""The ``audio_llm`` tool: ask an OpenAI-compatible audio model (``input_audio``) a question about the sound."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath
from typing import Any, ClassVar
from urllib.parse import urlparse

from detective import media as dmedia
from detective.models import MediaInfo, Modality, Observation, Query, TimeSpan
from detective.models import format_time as clock
from detective.tools import QuestionTool, SpanInput, ToolError

SAMPLE_RATE = 16000
#: Longest audio sent in one request; longer spans are split and asked chunk by chunk.
MAX_CHUNK_SECONDS = 30.0
#: Formats a remote audio URL may be passed through in (anything else is decoded and sent as WAV).
URL_FORMATS = {"wav", "mp3", "m4a", "flac", "ogg", "opus", "aac", "amr"}

SYSTEM_PROMPT = (
    "You are an audio observer. You hear only the audio you are given and know nothing else about the clip. "
    "Answer the question factually and impersonally, about the audio only: speech (quote it exactly), voices, "
    "sound events, music, noise, loudness and timing. Give times in seconds from the start of the clip. "
    "If something cannot be heard or determined, say so plainly instead of guessing. Do not describe visuals."
)


class AudioLLMTool(QuestionTool):
    """Asks the ``observer`` role's model (default ``qwen3-omni-flash``) a question about the audio.

    The span (the whole clip when none) is decoded to 16 kHz mono WAV and sent as base64 ``input_audio``;
    spans longer than 30 s are split into equal chunks of at most 30 s, one request each, and every answer
    becomes an observation over its chunk. A remote audio file asked about as a whole (≤ 30 s) is passed by URL.
    """

    name: ClassVar[str] = "audio_llm"
    description: ClassVar[str] = (
        "Ask an audio-language model a question about what can be heard: speech, voices and their tone, "
        "sound events, music, noise. Arguments: question, optional start/end span in seconds."
    )
    modalities: ClassVar[tuple[Modality, ...]] = ("audio",)
    version: ClassVar[str] = "0.2.0"
    system_prompt: ClassVar[str] = SYSTEM_PROMPT
    model_noun: ClassVar[str] = "audio model"
    model_inputs: ClassVar[tuple[str, ...]] = ("audio",)
    role: ClassVar[str] = "observer"
    reads_url: ClassVar[bool] = True  # a URL goes to the model as it is, or is decoded as a stream

    def __init__(
        self,
        *,
        max_chunk_seconds: float = MAX_CHUNK_SECONDS,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.max_chunk_seconds = max_chunk_seconds
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.extra_body = extra_body

    async def prepare(self, media: MediaInfo) -> None:
        """Encode the whole clip's audio chunks (clips of up to two chunks) while the planner thinks."""
        if not media.has_audio or (_remote_format(media) and media.duration <= self.max_chunk_seconds):
            return
        chunks = self._chunks(TimeSpan(start=0.0, end=media.duration))
        if len(chunks) <= 2:
            for chunk in chunks:
                await dmedia.awav_data_url(media.path or media.source, chunk.start, chunk.end, SAMPLE_RATE)

    def _chunks(self, span: TimeSpan) -> list[TimeSpan]:
        """``span`` cut into the equal chunks of at most ``max_chunk_seconds`` that are sent one per request."""
        return [
            TimeSpan(start=span.start + c.start, end=span.start + c.end)
            for c in dmedia.audio_chunks(span.duration, self.max_chunk_seconds)
        ] or [span]

    async def observe(self, media: MediaInfo, query: Query) -> list[Observation]:  # type: ignore[override]
        """One ``description`` observation per chunk of the asked span."""
        if not media.has_audio:
            raise ToolError(f"audio_llm: {media.source} has no audio stream; the audio model does not apply")
        question = self.question_of(media, query)
        asked = query.span is not None or any(query.arguments.get(k) is not None for k in ("start", "end"))
        span = self.span_of(media, query, SpanInput.model_validate(query.arguments))
        if not asked and _remote_format(media) and media.duration <= self.max_chunk_seconds:
            audio = {"data": media.source, "format": _remote_format(media)}
            return [await self._ask(media, question, span, audio, 0, 1)]
        chunks = self._chunks(span)
        return list(
            await asyncio.gather(
                *(self._ask_span(media, question, chunk, i, len(chunks)) for i, chunk in enumerate(chunks))
            )
        )

    async def _ask_span(self, media: MediaInfo, question: str, span: TimeSpan, index: int, count: int) -> Observation:
        try:
            data_url = await dmedia.awav_data_url(media.path or media.source, span.start, span.end, SAMPLE_RATE)
        except dmedia.MediaError as exc:
            raise ToolError(f"audio_llm: could not decode audio: {exc}") from exc
        if data_url is None:
            raise ToolError(f"audio_llm: {media.source}: no audio samples between {span.start}s and {span.end}s")
        audio = {"data": data_url, "format": "wav"}
        return await self._ask(media, question, span, audio, index, count)

    async def _ask(
        self, media: MediaInfo, question: str, span: TimeSpan, audio: dict[str, str], index: int, count: int
    ) -> Observation:
        parts: list[dict[str, Any]] = [{"type": "input_audio", "input_audio": audio}]
        if span.start > 0 or span.end < media.duration or count > 1:
            # a part of the clip: where it lies, so the model's times can be read as clip time (the whole clip's
            # times are clip time already)
            parts.append(
                {"type": "text", "text": f"This audio is the clip from {clock(span.start)} to {clock(span.end)}."}
            )
        parts.append({"type": "text", "text": f"Question: {question}"})
        return await self.ask(media, span, parts, {"question": question, "chunk": index, "chunks": count})


def _remote_format(media: MediaInfo) -> str | None:
    """The audio format of a remote source that can be passed by URL, else ``None``."""
    if not media.source.startswith(("http://", "https://")):
        return None
    suffix = PurePosixPath(urlparse(media.source).path).suffix.lower().lstrip(".")
    return suffix if suffix in URL_FORMATS else None
