"""The ``audio_events`` tool: streamed audio → signal features → labelled spans and a loudness summary."""

from __future__ import annotations

from pydantic import Field

from detective.media import MediaError, iter_audio_span
from detective.models import MediaInfo, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool, ToolError
from detective_audio_events.features import SR, Event, analyse

#: Seconds of audio analysed at a time: the working memory grows with it (about 2 MB a second), not with the clip.
BLOCK_SECONDS = 10.0


class AudioEventsInput(SpanInput):
    """Arguments of the ``audio_events`` tool."""

    include_silence: bool = Field(default=True, description="Also report silences of half a second or more.")


class AudioEventsTool(Tool):
    """Label spans of the audio from its signal: silence, speech-like, tone, broadband noise, music-like, sound."""

    name = "audio_events"
    description = (
        "Analyse the audio signal (no model): report spans of silence, speech-like sound, pure tones (with "
        "frequency), broadband noise, music-like sound or other sound, with loudness in dBFS, plus the clip's "
        "overall loudness and share of speech. Fast; use it to find where to listen closer."
    )
    input_model = AudioEventsInput
    modalities = ("audio",)
    version = "0.4.0"
    #: CPU s per clip s of a broad pass (benchmarks/observers.py, one thread); the costliest start first.
    cost = 0.007
    covers = ("sound",)

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Analyse the query's span (arguments ``start``/``end`` win over ``query.span``; default whole clip)."""
        if not media.has_audio:
            raise ToolError(f"audio_events: {media.source} has no audio stream, so there is nothing to analyse")
        args = AudioEventsInput.model_validate(query.arguments)
        start = args.start if args.start is not None else (query.span.start if query.span else 0.0)
        end = args.end if args.end is not None else (query.span.end if query.span else None)
        start = max(0.0, start)
        if end is not None and end <= start:
            raise ToolError(f"audio_events: empty span {start}..{end} of {media.source}")
        try:
            events, summary = analyse(iter_audio_span(media.path or media.source, start, end, BLOCK_SECONDS, SR))
        except MediaError as exc:
            raise ToolError(f"audio_events: {exc}") from exc
        observations = [self._observation(e, query) for e in events if args.include_silence or e.label != "silence"]
        stop = end if end is not None else media.duration
        ratio = summary["speech_ratio"]
        content = f"loudness {summary['loudness_db']:.1f} dBFS, speech-like {ratio:.0%} of the time"
        if summary["silence_ratio"] >= 0.995:
            content = f"silent throughout (loudness {summary['loudness_db']:.1f} dBFS)"
        observations.append(
            Observation(
                tool=self.name,
                kind="metadata",
                content=content,
                span=TimeSpan(start=round(start, 3), end=round(max(start, stop), 3)),
                confidence=1.0,
                payload=dict(summary),
                query_key=query.key,
            )
        )
        return observations

    def _observation(self, event: Event, query: Query) -> Observation:
        payload = {"label": event.label, "loudness_db": event.loudness_db, "peak_db": event.peak_db, **event.extra}
        return Observation(
            tool=self.name,
            kind="sound_event",
            content=event.label,
            span=TimeSpan(start=event.start, end=max(event.start, event.end)),
            confidence=event.confidence,
            payload=payload,
            query_key=query.key,
        )
