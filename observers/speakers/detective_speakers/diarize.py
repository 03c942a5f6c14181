"""Who speaks when: speech regions (Silero VAD) → GE2E voice embeddings on sliding windows → clustering → turns.

The audio is streamed in blocks; only per-window embeddings and per-cell (0.1 s) pitch and level are kept, so
memory does not grow with the clip beyond a few kilobytes per minute of speech.

1. **Speech regions**: the Silero VAD that faster-whisper ships as ONNX (no torch), with short minimum silences
   so that back-and-forth turns separated by a breath become separate regions. Music, tones and noise do not
   pass it, so they never reach the clustering and are never a speaker.
2. **Embeddings**: each region is cut into 1.6 s windows with a 0.4 s hop (the encoder's training length, and
   Resemblyzer's own partials); a region shorter than 1.6 s is one window of its own length.
3. **Clustering**: average-link agglomerative clustering of the windows of 1 s or longer on cosine distance,
   stopped at :data:`THRESHOLD` (or cut at ``num_speakers`` clusters when the caller knows it). Shorter windows
   are embedded all the same but only assigned to the nearest cluster, as their embeddings are noisier.
4. **Turns**: every 0.1 s cell of speech takes the speaker whose centroid is most similar to the windows that
   cover it; runs of one speaker, bridged over pauses shorter than :data:`BRIDGE_S`, are the turns.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from detective_speakers.encoder import HOP as MEL_HOP
from detective_speakers.encoder import SR, WINDOW_FRAMES, default_encoder, mel_spectrogram, normalise_volume

CELL_S = 0.1  # resolution of the speaker labels
WINDOW_S = WINDOW_FRAMES * MEL_HOP / SR  # 1.6 s
WINDOW_HOP_S = 0.4
RELIABLE_S = 1.0  # windows at least this long are clustered; shorter ones are only assigned
#: Average-link cosine distance at which clustering stops: same-voice 1.6 s windows sit at cosine similarity
#: 0.74–0.9 and different espeak-ng voices at 0.45–0.69 (measured on the test conversations, docs/speakers.md).
THRESHOLD = 0.3
#: A cluster with less speech than this and under :data:`MIN_SPEAKER_SHARE` of all speech is small: it joins the
#: cluster it sounds like, centroid similarity :data:`FOLD_SIMILARITY` or more and median pitch within
#: :data:`FOLD_PITCH` (share) of it. On real voices one speaker's windows scatter: Allison Smith's prompt over
#: music-on-hold splits off clusters of 1.9 s and 2.7 s (similarity 0.72-0.80, same pitch), pyannote's two-person
#: sample clusters of 2.4 s and 2.8 s (0.84, pitch 13% and 23% higher) beside its two real voices (0.86 apart);
#: tests/fixtures/make_real_corpus.py. Espeak-ng voices that speak little in the synthetic conversations sit at
#: 0.43-0.70 from every other voice, or at 0.745 at a third of its pitch (observers/speakers/tests/
#: make_conversations.py): they stay. Every small cluster of the corpus and of the synthetic conversations, as
#: the rule sees it: same voice, must join: 0.715 (music-on-hold), 0.839 and 0.841 (pyannote's sample), pitch
#: within 23%; another voice, must stay: 0.542 (espeak-ng, pitch within 7%: only the similarity keeps it apart),
#: 0.559, 0.572 and 0.706 (pitch 2-3x apart). Swept from 0.50 to 0.88, every clip's voice count and DER stay right
#: from 0.56 to 0.74; 0.63 sits in the middle, 0.085 from both edges (0.70 sat 0.015 from the music-on-hold
#: cluster). On similarity alone the voices leave a gap of 0.009 (0.706 to 0.715): the pitch test widens it.
MIN_SPEAKER_S = 4.0
MIN_SPEAKER_SHARE = 0.2
FOLD_SIMILARITY = 0.63
FOLD_PITCH = 0.35
#: Short windows of a voice unlike every clustered one: the ALSA voice's 0.5 s windows of the corpus's two_voices
#: clip sit at 0.52-0.64 from Allison Smith's centroid, short windows of the espeak-ng conversations at 0.58-0.86
#: from their own voice's (tests/fixtures/make_real_corpus.py, observers/speakers/tests/make_conversations.py).
NEW_VOICE_SIMILARITY = 0.65
NEW_VOICE_S = 2.0
MIN_STRAY_S = 1.0  # a cluster with less speech than this (or under 5% of all speech) always joins its nearest one
MIN_RUN_S = 0.4  # a change of speaker inside a speech region must last this long
BRIDGE_S = 1.0  # a pause shorter than this between two stretches of the same speaker does not end the turn
MAX_CLUSTERED = 1500  # windows beyond this are subsampled for clustering (linkage memory grows as n²)
BATCH = 64  # windows per encoder batch
BLOCK_S = 30.0  # audio is analysed in blocks of this length


@dataclass
class Turn:
    """One stretch of one speaker's speech."""

    speaker: str
    start: float
    end: float
    confidence: float
    pitch_hz: float | None
    loudness_db: float | None
    speech_seconds: float


@dataclass
class Diarization:
    """The turns of a stretch of audio and what was measured on the way."""

    turns: list[Turn]
    speech_seconds: float
    windows: int
    regions: list[tuple[float, float]] = field(default_factory=list)
    #: the labelled speech itself ``(speaker, start, end)``: turns without the pauses bridged inside them
    segments: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def speakers(self) -> list[str]:
        """Speaker labels in order of first appearance."""
        return list(dict.fromkeys(t.speaker for t in self.turns))

    def seconds(self, speaker: str) -> float:
        """Seconds of speech attributed to ``speaker``."""
        return sum(t.speech_seconds for t in self.turns if t.speaker == speaker)


@functools.cache
def _vad_options() -> object:
    from faster_whisper.vad import VadOptions

    return VadOptions(min_silence_duration_ms=100, speech_pad_ms=30, min_speech_duration_ms=200, threshold=0.35)


def speech_regions(samples: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` sample ranges of speech in 16 kHz ``samples`` (Silero VAD)."""
    from faster_whisper.vad import get_speech_timestamps

    if samples.size < SR // 10:
        return []
    stamps = get_speech_timestamps(samples.astype(np.float32, copy=False), _vad_options(), sampling_rate=SR)
    return [(int(s["start"]), int(s["end"])) for s in stamps]


@dataclass
class _Window:
    start: float
    end: float
    reliable: bool


def _window_bounds(start: int, end: int) -> list[tuple[int, int]]:
    size, hop = round(WINDOW_S * SR), round(WINDOW_HOP_S * SR)
    if end - start <= size:
        return [(start, end)]
    bounds = [(a, a + size) for a in range(start, end - size + 1, hop)]
    if bounds[-1][1] < end:  # the tail gets a window ending at the region's end
        bounds.append((end - size, end))
    return bounds


def _cell_pitch_and_level(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per 0.1 s cell: median voiced pitch (Hz, NaN if unvoiced) and RMS level (dBFS)."""
    cell = round(CELL_S * SR)
    count = samples.size // cell
    if count == 0:
        return np.zeros(0), np.zeros(0)
    cells = samples[: count * cell].reshape(count, cell).astype(np.float64)
    level = 20 * np.log10(np.maximum(np.sqrt(np.mean(cells**2, axis=1)), 1e-10))
    # 40 ms frames every 20 ms inside each cell; normalised autocorrelation peak at 70–400 Hz
    frame, hop = 640, 320
    starts = np.arange(0, cell - frame + 1, hop)
    frames = np.stack([cells[:, s : s + frame] for s in starts], axis=1)  # (count, k, frame)
    frames = frames - frames.mean(axis=2, keepdims=True)
    spec = np.fft.rfft(frames, n=2 * frame, axis=2)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=2)[..., :frame]
    lo, hi = SR // 400, SR // 70
    # unbiased: a lag of L sees only frame - L products, so low voices are not penalised for their long period
    unbiased = ac[..., lo:hi] * (frame / (frame - np.arange(lo, hi)))
    lag = lo + np.argmax(unbiased, axis=2)
    strength = np.take_along_axis(ac, lag[..., None], axis=2)[..., 0] * (frame / (frame - lag)) / (ac[..., 0] + 1e-12)
    f0 = np.where(strength > 0.4, SR / lag, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an unvoiced cell (all NaN) has no pitch: NaN
        pitch = np.nanmedian(f0, axis=1)
    return pitch, level


class _Collector:
    """Embeds the speech of consecutive blocks, keeping only windows, embeddings and per-cell measurements."""

    def __init__(self) -> None:
        self.windows: list[_Window] = []
        self.embeddings: list[np.ndarray] = []
        self.regions: list[tuple[float, float]] = []
        self.cells: dict[int, tuple[float, float]] = {}  # cell index -> (pitch, level)

    def add_block(self, offset: float, samples: np.ndarray) -> None:
        """Find the speech of one block and embed its windows."""
        mels: list[np.ndarray] = []
        for a, b in speech_regions(samples):
            region = normalise_volume(samples[a:b])
            t0, t1 = offset + a / SR, offset + b / SR
            self.regions.append((t0, t1))
            pitch, level = _cell_pitch_and_level(samples[a:b])
            first = round(t0 / CELL_S)
            for k in range(pitch.size):
                self.cells[first + k] = (float(pitch[k]), float(level[k]))
            for wa, wb in _window_bounds(0, b - a):
                self.windows.append(_Window(t0 + wa / SR, t0 + wb / SR, (wb - wa) / SR >= RELIABLE_S))
                mels.append(mel_spectrogram(region[wa:wb])[:WINDOW_FRAMES])
        encoder = default_encoder()
        for i in range(0, len(mels), BATCH):
            chunk = mels[i : i + BATCH]
            lengths = np.array([m.shape[0] for m in chunk])
            batch = np.zeros((len(chunk), int(lengths.max()), chunk[0].shape[1]), dtype=np.float32)
            for k, mel in enumerate(chunk):
                batch[k, : mel.shape[0]] = mel
            self.embeddings.extend(encoder.embed(batch, lengths))


def _cluster(vectors: np.ndarray, num_speakers: int | None) -> np.ndarray:
    """Cluster labels (0-based) of L2-normalised ``vectors``."""
    from scipy.cluster.hierarchy import fcluster, linkage  # here: discovering the plugin must not import scipy

    if vectors.shape[0] == 1:
        return np.zeros(1, dtype=int)
    tree = linkage(vectors.astype(np.float64), method="average", metric="cosine")
    if num_speakers is not None:
        labels = fcluster(tree, t=num_speakers, criterion="maxclust")
    else:
        labels = fcluster(tree, t=THRESHOLD, criterion="distance")
    return labels.astype(int) - 1


def _covered(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by ``spans``, overlaps counted once."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def _nanmedian(values: np.ndarray) -> float:
    voiced = values[~np.isnan(values)]
    return float(np.median(voiced)) if voiced.size else math.nan


def _window_pitch(collector: _Collector) -> np.ndarray:
    """Median voiced pitch (Hz, NaN if none) of the cells each window covers."""
    out = np.full(len(collector.windows), np.nan)
    for i, window in enumerate(collector.windows):
        cells = range(math.floor(window.start / CELL_S + 1e-6), math.ceil(window.end / CELL_S - 1e-6))
        out[i] = _nanmedian(np.array([collector.cells.get(c, (math.nan, math.nan))[0] for c in cells]))
    return out


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)


def _is_small(weight: float, total: float) -> bool:
    return weight < MIN_SPEAKER_S and weight < MIN_SPEAKER_SHARE * total


def _fold_target(
    centroids: list[np.ndarray], weights: list[float], pitches: list[float], total: float
) -> tuple[int, int] | None:
    """``(small, into)``: the smallest cluster that is no speaker of its own and the cluster it joins, if any.

    A small cluster (:func:`_is_small`) joins the most similar cluster that is not small (the largest other one,
    when all are) when it sounds like it: centroid similarity :data:`FOLD_SIMILARITY` or more and a median pitch
    within :data:`FOLD_PITCH` of it. A tiny one (under :data:`MIN_STRAY_S` or 5% of the speech) always joins."""
    big = [j for j in range(len(centroids)) if not _is_small(weights[j], total)]
    for k in sorted(range(len(centroids)), key=lambda i: weights[i]):
        others = [j for j in range(len(centroids)) if j != k]
        if weights[k] < MIN_STRAY_S or weights[k] < 0.05 * total:  # stray windows (a cough, a laugh)
            return k, max(others, key=lambda j: float(centroids[k] @ centroids[j]))
        if not _is_small(weights[k], total):
            continue
        pool = [j for j in big if j != k] or [max(others, key=lambda j: weights[j])]
        into = max(pool, key=lambda j: float(centroids[k] @ centroids[j]))
        similar = float(centroids[k] @ centroids[into]) >= FOLD_SIMILARITY
        a, b = pitches[k], pitches[into]
        same_pitch = math.isnan(a) or math.isnan(b) or abs(a - b) <= FOLD_PITCH * max(a, b)
        if similar and same_pitch:
            return k, into
    return None


def _short_voices(embeddings: np.ndarray, windows: list[_Window], centroids: np.ndarray) -> np.ndarray:
    """``centroids`` plus one for each voice heard only in short windows, unlike every clustered voice.

    A voice that speaks only in short bursts ("Front ... left", broken by the VAD at a 0.2 s pause) never
    reaches the clustering, which takes windows of :data:`RELIABLE_S` or more. Short windows no centroid
    matches (best similarity under :data:`NEW_VOICE_SIMILARITY`) that sound alike and cover
    :data:`NEW_VOICE_S` of speech together are a voice of their own."""
    short = [i for i, w in enumerate(windows) if not w.reliable]
    if not short:
        return centroids
    best = (embeddings[short] @ centroids.T).max(axis=1)
    far = [i for i, s in zip(short, best, strict=True) if s < NEW_VOICE_SIMILARITY]
    if len(far) < 2 or _covered([(windows[i].start, windows[i].end) for i in far]) < NEW_VOICE_S:
        return centroids
    labels = _cluster(embeddings[far], None)
    added = [centroids]
    for k in range(labels.max() + 1):
        members = [far[j] for j in np.flatnonzero(labels == k)]
        if _covered([(windows[i].start, windows[i].end) for i in members]) >= NEW_VOICE_S:
            added.append(_normalise(embeddings[members].mean(axis=0))[None, :])
    return np.concatenate(added)


def _centroids(
    embeddings: np.ndarray, windows: list[_Window], num_speakers: int | None, pitch: np.ndarray | None = None
) -> np.ndarray:
    """One L2-normalised centroid per speaker found among the windows (``pitch``: each window's median, Hz)."""
    reliable = np.array([w.reliable for w in windows])
    pool = np.flatnonzero(reliable) if reliable.any() else np.arange(len(windows))
    if pool.size > MAX_CLUSTERED:  # evenly spaced subsample: every stretch of the clip is represented
        pool = pool[np.linspace(0, pool.size - 1, MAX_CLUSTERED).round().astype(int)]
    hint = min(num_speakers, pool.size) if num_speakers else None
    labels = _cluster(embeddings[pool], hint)
    centroids = [_normalise(embeddings[pool][labels == k].mean(axis=0)) for k in range(labels.max() + 1)]
    # a cluster's weight is the seconds of speech its windows cover (overlapping windows counted once)
    spans = [(windows[i].start, windows[i].end) for i in pool]
    weights = [_covered([spans[j] for j in np.flatnonzero(labels == k)]) for k in range(labels.max() + 1)]
    pooled = pitch[pool] if pitch is not None else np.full(pool.size, np.nan)
    pitches = [_nanmedian(pooled[labels == k]) for k in range(labels.max() + 1)]
    if num_speakers is None:
        # tiny clusters are stray windows (a cough, a laugh), not a speaker: fold them into the nearest one
        total = sum(weights)
        while len(centroids) > 1:
            fold = _fold_target(centroids, weights, pitches, total)
            if fold is None:
                break
            small, near = fold
            merged = centroids[near] * weights[near] + centroids[small] * weights[small]
            centroids[near] = _normalise(merged)
            weights[near] += weights[small]
            pitches[near] = _nanmedian(np.array([pitches[near], pitches[small]]))
            del centroids[small], weights[small], pitches[small]
    return np.stack(centroids)


@dataclass
class _Segment:
    speaker: int
    start: float
    end: float
    cells: list[int]
    margins: list[float]


def _label_regions(collector: _Collector, centroids: np.ndarray, embeddings: np.ndarray) -> list[_Segment]:
    """Label every 0.1 s cell of speech with the best-matching speaker; runs of one speaker are segments."""
    sims = embeddings @ centroids.T  # (windows, speakers)
    score: dict[int, np.ndarray] = {}
    hits: dict[int, int] = {}
    for window, row in zip(collector.windows, sims, strict=True):
        for cell in range(math.floor(window.start / CELL_S + 1e-6), math.ceil(window.end / CELL_S - 1e-6)):
            score[cell] = score.get(cell, 0.0) + row
            hits[cell] = hits.get(cell, 0) + 1
    segments: list[_Segment] = []
    for t0, t1 in collector.regions:
        cells = [c for c in range(math.floor(t0 / CELL_S + 1e-6), math.ceil(t1 / CELL_S - 1e-6)) if c in score]
        runs: list[list[tuple[int, int, float]]] = []
        for cell in cells:
            mean = score[cell] / hits[cell]
            order = np.argsort(mean)[::-1]
            margin = float(mean[order[0]] - mean[order[1]]) if mean.size > 1 else float(mean[order[0]])
            item = (cell, int(order[0]), margin)
            if runs and runs[-1][-1][1] == item[1]:
                runs[-1].append(item)
            else:
                runs.append([item])
        # a run shorter than MIN_RUN_S inside a region is a wobble of the scores, not a turn: it joins the longer
        # of its neighbours
        k = 0
        while len(runs) > 1 and k < len(runs):
            if len(runs[k]) * CELL_S < MIN_RUN_S:
                before = len(runs[k - 1]) if k > 0 else -1
                after = len(runs[k + 1]) if k + 1 < len(runs) else -1
                target = k - 1 if before >= after else k + 1
                speaker = runs[target][0][1]
                merged = sorted(runs[k] + runs[target])
                runs[min(k, target)] = [(c, speaker, m) for c, _, m in merged]
                del runs[max(k, target)]
                k = 0
                continue
            k += 1
        for run in runs:
            start = max(t0, run[0][0] * CELL_S)
            end = min(t1, (run[-1][0] + 1) * CELL_S)
            if end > start:
                segments.append(_Segment(run[0][1], start, end, [c for c, _, _ in run], [m for _, _, m in run]))
    return segments


def _turn(collector: _Collector, name: str, parts: list[_Segment], speakers: int) -> Turn:
    cells = [c for p in parts for c in p.cells]
    pitches = np.array([collector.cells.get(c, (np.nan, np.nan))[0] for c in cells])
    levels = np.array([collector.cells.get(c, (np.nan, np.nan))[1] for c in cells])
    voiced = pitches[~np.isnan(pitches)]
    loud = levels[~np.isnan(levels)]
    margin = float(np.mean([m for p in parts for m in p.margins]))
    # with several speakers: how clearly the best centroid wins; alone: how close the voice is to its centroid
    confidence = 0.5 + 2 * margin if speakers > 1 else margin
    return Turn(
        speaker=name,
        start=round(parts[0].start, 3),
        end=round(parts[-1].end, 3),
        confidence=round(float(np.clip(confidence, 0.05, 0.99)), 3),
        pitch_hz=round(float(np.median(voiced)), 1) if voiced.size >= 2 else None,
        loudness_db=round(float(10 * np.log10(np.mean(10 ** (loud / 10)))), 1) if loud.size else None,
        speech_seconds=round(sum(p.end - p.start for p in parts), 3),
    )


def warm_up() -> None:
    """Load the voice encoder and the voice-activity model (both cached per process)."""
    from faster_whisper.vad import get_vad_model

    default_encoder()
    get_vad_model()


def diarize(blocks: Iterable[tuple[float, np.ndarray]], num_speakers: int | None = None) -> Diarization:
    """Speaker turns of a stream of ``(time, samples)`` 16 kHz blocks (e.g. :func:`detective.media.iter_audio`)."""
    collector = _Collector()
    for offset, samples in blocks:
        collector.add_block(offset, samples)
    speech = sum(b - a for a, b in collector.regions)
    if not collector.windows:
        return Diarization(turns=[], speech_seconds=round(speech, 3), windows=0, regions=collector.regions)
    embeddings = np.stack(collector.embeddings)
    centroids = _centroids(embeddings, collector.windows, num_speakers, _window_pitch(collector))
    if num_speakers is None:
        centroids = _short_voices(embeddings, collector.windows, centroids)
    segments = _label_regions(collector, centroids, embeddings)
    names = {s: f"S{i + 1}" for i, s in enumerate(dict.fromkeys(seg.speaker for seg in segments))}
    count = centroids.shape[0]
    turns: list[Turn] = []
    group: list[_Segment] = []
    for seg in segments:
        if group and (seg.speaker != group[-1].speaker or seg.start - group[-1].end > BRIDGE_S):
            turns.append(_turn(collector, names[group[0].speaker], group, count))
            group = []
        group.append(seg)
    if group:
        turns.append(_turn(collector, names[group[0].speaker], group, count))
    speech_segments = [(names[seg.speaker], round(seg.start, 3), round(seg.end, 3)) for seg in segments]
    return Diarization(
        turns=turns,
        speech_seconds=round(speech, 3),
        windows=len(collector.windows),
        regions=collector.regions,
        segments=speech_segments,
    )
