"""The ``asr`` tool: speech segments with word timestamps, re-split at pauses so spans stay tight."""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from detective import media as dmedia
from detective.models import Aspect, Coverage, MediaInfo, Modality, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool, ToolError
from detective_asr import model as whisper

SAMPLE_RATE = 16000
#: Whisper's own rule for a segment that is not speech: likely silence and not confidently decoded.
NO_SPEECH_PROB = 0.6
LOGPROB_FLOOR = -1.0
#: Past this, the model itself is all but sure there is no speech, however fluent the words (tiny.en says " You"
#: over pure silence with no_speech_prob 0.95 and avg_logprob -0.96).
SURELY_NO_SPEECH = 0.9
#: Above this gzip compression ratio a segment is a repetition loop, a known Whisper hallucination.
MAX_COMPRESSION = 2.4
#: Seconds before a window's nominal end searched for the quietest moment to cut at.
QUIET_SEARCH = 5.0


@dataclass
class Word:
    """A word with clip-absolute times."""

    word: str
    start: float
    end: float
    probability: float


def split_words(words: list[Word], max_pause: float = 0.5, max_seconds: float = 12.0) -> list[list[Word]]:
    """Split a segment's words where the pause between two words exceeds ``max_pause`` seconds, or where the
    piece would grow longer than ``max_seconds``."""
    pieces: list[list[Word]] = []
    for word in words:
        if pieces:
            current = pieces[-1]
            pause = word.start - current[-1].end
            if pause <= max_pause and word.end - current[0].start <= max_seconds:
                current.append(word)
                continue
        pieces.append([word])
    return pieces


def snap_to_voice(
    rms: np.ndarray, hop: float, start: float, end: float, first_end: float, last_start: float, reach: float = 0.4
) -> tuple[float, float]:
    """Move a piece's edges to where the voice really starts and stops.

    Whisper's first word often starts a few hundred milliseconds early. ``rms`` is the frame energy of the
    audio (frames of ``hop`` seconds, time 0 = first sample); the new start is the first loud frame between
    ``start - reach`` and the end of the first word, the new end the last loud frame between the start of the
    last word and ``end + reach``. "Loud" is within 26 dB of the piece's peak. Edges never cross the words.
    """
    lo, hi = max(0, int((start - reach) / hop)), min(len(rms), math.ceil((end + reach) / hop))
    if hi - lo < 2:
        return start, end
    loud = rms[lo:hi] >= max(0.05 * float(rms[lo:hi].max()), 1e-3)
    frames = np.flatnonzero(loud)
    if frames.size == 0:
        return start, end
    onset = (lo + frames[0]) * hop
    offset = (lo + frames[-1] + 1) * hop
    new_start = onset if onset < first_end else start
    new_end = offset if offset > last_start else end
    return round(new_start, 3), round(max(new_start, new_end), 3)


def frame_rms(audio: np.ndarray, sr: int, hop: float = 0.01) -> np.ndarray:
    """Root-mean-square energy of consecutive ``hop``-second frames."""
    size = max(1, int(sr * hop))
    usable = (len(audio) // size) * size
    if usable == 0:
        return np.zeros(0, dtype=np.float32)
    frames = audio[:usable].astype(np.float32).reshape(-1, size)
    return np.sqrt(np.mean(frames**2, axis=1))


def is_speech(segment: Any) -> bool:
    """False for segments Whisper itself marks as hallucinated: likely no speech and a low log-probability, or a
    repetition loop (high compression ratio)."""
    no_speech = float(getattr(segment, "no_speech_prob", 0.0) or 0.0)
    logprob = float(getattr(segment, "avg_logprob", 0.0) or 0.0)
    if no_speech >= SURELY_NO_SPEECH or (no_speech > NO_SPEECH_PROB and logprob < LOGPROB_FLOOR):
        return False
    return float(getattr(segment, "compression_ratio", 0.0) or 0.0) <= MAX_COMPRESSION


class ASRTool(Tool):
    """Transcribes speech with faster-whisper (CPU, int8, VAD on, word timestamps).

    The model is loaded once per process on first use; see :mod:`detective_asr.model` for how it is found and
    verified. Long segments are re-split at pauses longer than 0.5 s and kept under 12 s.
    """

    name: ClassVar[str] = "asr"
    description: ClassVar[str] = (
        "Transcribe speech: segments with start/end times, word timestamps, language and confidence. "
        "Arguments: optional start/end span in seconds (the whole clip when omitted)."
    )
    input_model: ClassVar[type[BaseModel]] = SpanInput
    modalities: ClassVar[tuple[Modality, ...]] = ("audio",)
    version: ClassVar[str] = "0.2.0"
    #: CPU s per clip s of a broad pass (benchmarks/observers.py, one thread); the costliest start first.
    cost: ClassVar[float] = 0.08
    covers: ClassVar[tuple[Aspect, ...]] = ("speech",)

    def __init__(
        self,
        model: str | None = None,
        *,
        beam_size: int = 5,
        max_pause: float = 0.5,
        max_segment: float = 12.0,
        window: float = 30.0,
    ) -> None:
        self.model = model
        self.beam_size = beam_size
        self.max_pause = max_pause
        self.max_segment = max_segment
        self.window = window
        self._slots = threading.BoundedSemaphore(whisper.transcribers())

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Speech segments over the query's span (the whole clip when none).

        Long spans are transcribed window by window (about ``window`` seconds each, cut at the quietest moment
        near each boundary so no word is split), so memory stays flat however long the clip is.
        """
        if not media.has_audio:
            raise ToolError(f"asr: {media.source} has no audio stream; ASR does not apply")
        args = SpanInput.model_validate(query.arguments)
        span = self.span_of(media, query, args)
        source = whisper.resolve(self.model)
        model = whisper.load(source)
        path = media.path or media.source
        observations: list[Observation] = []
        try:
            for start, end in self._windows(path, span):
                audio = dmedia.load_audio(path, start=start, end=end, sr=SAMPLE_RATE)
                if audio.size < SAMPLE_RATE // 10:
                    continue
                # At most as many transcriptions at once as the model has workers (CTranslate2 queues the rest).
                with self._slots:
                    segments, info = model.transcribe(
                        audio,
                        beam_size=self.beam_size,
                        vad_filter=True,
                        word_timestamps=True,
                        condition_on_previous_text=False,
                    )
                    segments = list(segments)
                rms = frame_rms(audio, SAMPLE_RATE)
                for segment in segments:
                    observations.extend(self._observations(segment, info, start, source.label, rms))
        except dmedia.MediaError as exc:
            raise ToolError(f"asr: could not decode audio: {exc}") from exc
        return observations

    def check(self) -> str:
        """The Whisper model directory is complete and, for the bundled model, its ``model.bin`` sha256 matches."""
        source = whisper.resolve(self.model)
        whisper.verify(source)
        return f"{source.label}: files present" + (", sha256 verified" if source.sha256 else "")

    def coverage(self, media: MediaInfo, query: Query, observations: list[Observation]) -> Coverage:
        """The span transcribed, and with which model: ``speech recognition (Whisper tiny.en)``."""
        found = super().coverage(media, query, observations)
        try:
            label = whisper.resolve(self.model).label
        except ToolError:
            label = self.model or "Whisper"
        return found.model_copy(update={"detail": f"speech recognition with {label}"})

    def _windows(self, path: str, span: TimeSpan) -> list[tuple[float, float]]:
        """Consecutive windows covering ``span``, each cut at the quietest 10 ms near its nominal end."""
        if span.duration <= 1.5 * self.window:
            return [(span.start, span.end)]
        cuts = [span.start]
        nominal = span.start + self.window
        reach = min(QUIET_SEARCH, 0.25 * self.window)  # each window keeps at least 3/4 of its length
        while span.end - nominal > 0.5 * self.window:
            search = dmedia.load_audio(path, start=nominal - reach, end=nominal, sr=SAMPLE_RATE)
            rms = frame_rms(search, SAMPLE_RATE)
            quiet = nominal - reach + (float(np.argmin(rms)) + 0.5) * 0.01 if rms.size else nominal
            cuts.append(round(quiet, 3))
            nominal = cuts[-1] + self.window
        cuts.append(span.end)
        return list(itertools.pairwise(cuts))

    def _observations(
        self, segment: Any, info: Any, offset: float, model_label: str, rms: np.ndarray
    ) -> list[Observation]:
        if not is_speech(segment):
            return []
        words = [
            Word(w.word, round(offset + w.start, 3), round(offset + w.end, 3), round(float(w.probability), 4))
            for w in (segment.words or [])
        ]
        confidence = min(1.0, max(0.0, math.exp(float(segment.avg_logprob))))
        common = {
            "language": info.language,
            "language_probability": round(float(info.language_probability), 4),
            "no_speech_prob": round(float(segment.no_speech_prob), 4),
            "avg_logprob": round(float(segment.avg_logprob), 4),
            "compression_ratio": round(float(getattr(segment, "compression_ratio", 0.0) or 0.0), 3),
            "model": model_label,
        }
        if not words:
            text = segment.text.strip()
            if not text:
                return []
            span = TimeSpan(start=round(offset + segment.start, 3), end=round(offset + segment.end, 3))
            return [self._observation(text, span, confidence, [], common)]
        out = []
        for piece in split_words(words, self.max_pause, self.max_segment):
            text = "".join(w.word for w in piece).strip()
            if not text:
                continue
            start, end = snap_to_voice(
                rms,
                0.01,
                piece[0].start - offset,
                piece[-1].end - offset,
                piece[0].end - offset,
                piece[-1].start - offset,
            )
            span = TimeSpan(start=round(offset + start, 3), end=round(offset + end, 3))
            out.append(self._observation(text, span, confidence, piece, common))
        return out

    def _observation(
        self, text: str, span: TimeSpan, confidence: float, words: list[Word], common: dict[str, Any]
    ) -> Observation:
        payload = {
            "words": [
                {"word": w.word.strip(), "start": w.start, "end": w.end, "probability": w.probability} for w in words
            ],
            **common,
        }
        return Observation(
            tool=self.name, kind="speech", content=text, span=span, confidence=round(confidence, 4), payload=payload
        )
