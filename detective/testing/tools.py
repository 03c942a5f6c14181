"""Tiny tools for tests and benchmarks: a stateless audio-LLM observer that really calls an endpoint."""

from __future__ import annotations

from typing import ClassVar

from detective.models import MediaInfo, Observation, Query
from detective.runtime import current_services
from detective.tools import QuestionInput, Tool, ToolError


class ListenTool(Tool):
    """Asks the ``observer`` endpoint a question about (at most ``max_seconds`` of) the clip's audio.

    A minimal real observer: it decodes the audio, sends it as an ``input_audio`` WAV data URL with the
    question, and reports the answer as one ``description`` observation. Used against
    ``detective_testserver.ChatServer`` (the test server, ``tests/testserver``).
    """

    name: ClassVar[str] = "listen"
    description: ClassVar[str] = "Ask an audio model a question about the clip's sound."
    input_model = QuestionInput
    modalities = ("audio",)
    version: ClassVar[str] = "1"
    asks_questions: ClassVar[bool] = True
    needs_api: ClassVar[bool] = True
    role: ClassVar[str] = "observer"
    model_inputs: ClassVar[tuple[str, ...]] = ("audio",)
    reads_url: ClassVar[bool] = True  # a URL goes to the model as it is, or is decoded as a stream
    max_seconds: ClassVar[float] = 30.0

    def _heard(self, media: MediaInfo, query: Query | None) -> tuple[float, float]:
        """The seconds sent for ``query`` (``None``: a question without a span): at most ``max_seconds``."""
        start = query.span.start if query and query.span else 0.0
        end = query.span.end if query and query.span else media.duration
        return start, min(end, start + self.max_seconds)

    async def prepare(self, media: MediaInfo) -> None:
        """Encode the audio a question without a span is about, while the planner thinks."""
        from detective.media import awav_data_url

        await awav_data_url(media.path or media.source, *self._heard(media, None))

    async def observe(self, media: MediaInfo, query: Query) -> list[Observation]:  # type: ignore[override]
        """Send the audio and the question; the answer is one description."""
        from detective.media import awav_data_url

        start, end = self._heard(media, query)
        data_url = await awav_data_url(media.path or media.source, start, end)
        if data_url is None:
            raise ToolError(f"{self.name}: {media.source} has no audio between {start}s and {end}s")
        question = query.question or "Describe everything you hear."
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": data_url, "format": "wav"}},
                    {"type": "text", "text": f"Question: {question}"},
                ],
            }
        ]
        llm = current_services().llm(self.role)
        reply = await llm.chat(messages, temperature=0.0)
        return [
            Observation(
                tool=self.name,
                kind="description",
                content=reply.content or "",
                span=query.span,
                payload={"model": llm.model, "question": question},
            )
        ]
