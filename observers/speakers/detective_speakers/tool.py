"""The ``speakers`` tool: streamed audio → speech regions → voice embeddings → speaker turns."""

from __future__ import annotations

import asyncio

from pydantic import Field

from detective.media import MediaError, iter_audio_span
from detective.models import MediaInfo, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool, ToolError
from detective_speakers.diarize import BLOCK_S, SR, Diarization, Turn, diarize, warm_up


class SpeakersInput(SpanInput):
    """Arguments of the ``speakers`` tool."""

    num_speakers: int | None = Field(
        default=None, ge=1, le=20, description="How many different voices there are, when known; else estimated."
    )


class SpeakersTool(Tool):
    """Find who speaks when: speaker turns labelled S1, S2, … from voice embeddings (offline, no transcript)."""

    name = "speakers"
    description = (
        "Separate the voices of the audio (speaker diarisation, offline): report each speaker turn with its "
        "speaker label (S1, S2, … in order of first appearance), span, median pitch and loudness, plus how many "
        "voices there are and each one's share of the speech. Music, tones and noise are not speakers. "
        "Pass num_speakers when the number of voices is known."
    )
    input_model = SpeakersInput
    modalities = ("audio",)
    version = "0.3.0"
    #: CPU s per clip s of a broad pass (benchmarks/observers.py, one thread); the costliest start first.
    cost = 0.02

    async def prepare(self, media: MediaInfo) -> None:
        """Load the voice encoder and the voice-activity model while the planner thinks."""
        if media.has_audio:
            await asyncio.to_thread(warm_up)

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Diarise the query's span (arguments ``start``/``end`` win over ``query.span``; default whole clip)."""
        if not media.has_audio:
            raise ToolError(f"speakers: {media.source} has no audio stream, so there are no voices to separate")
        args = SpeakersInput.model_validate(query.arguments)
        start = args.start if args.start is not None else (query.span.start if query.span else 0.0)
        end = args.end if args.end is not None else (query.span.end if query.span else None)
        start = max(0.0, start)
        if end is not None and end <= start:
            raise ToolError(f"speakers: empty span {start}..{end} of {media.source}")
        try:
            result = diarize(
                iter_audio_span(media.path or media.source, start, end, BLOCK_S, SR), num_speakers=args.num_speakers
            )
        except MediaError as exc:
            raise ToolError(f"speakers: {exc}") from exc
        stop = end if end is not None else media.duration
        observations = [self._turn(t, query) for t in result.turns]
        observations.append(self._summary(result, query, start, max(start, stop)))
        return observations

    def _turn(self, turn: Turn, query: Query) -> Observation:
        payload: dict[str, object] = {"speaker": turn.speaker}
        if turn.pitch_hz is not None:
            payload["pitch_hz"] = turn.pitch_hz
        if turn.loudness_db is not None:
            payload["loudness_db"] = turn.loudness_db
        return Observation(
            tool=self.name,
            kind="speaker",
            content=f"speaker {turn.speaker}",
            span=TimeSpan(start=turn.start, end=max(turn.start, turn.end)),
            confidence=turn.confidence,
            payload=payload,
            query_key=query.key,
        )

    def _summary(self, result: Diarization, query: Query, start: float, stop: float) -> Observation:
        speakers = result.speakers
        total = sum(result.seconds(s) for s in speakers)
        shares = {s: round(result.seconds(s) / total, 3) if total else 0.0 for s in speakers}
        if not speakers:
            content = "no speech found, so no speakers"
        elif len(speakers) == 1:
            content = f"one speaker (S1) in {total:.1f} s of speech"
        else:
            listed = ", ".join(f"{s} {shares[s]:.0%}" for s in speakers)
            content = f"{len(speakers)} speakers in {total:.1f} s of speech: {listed}"
        return Observation(
            tool=self.name,
            kind="metadata",
            content=content,
            span=TimeSpan(start=round(start, 3), end=round(stop, 3)),
            confidence=1.0,
            payload={"num_speakers": len(speakers), "speaker_shares": shares},
            query_key=query.key,
        )
