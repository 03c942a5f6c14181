"""Signal features over short frames and their segmentation into labelled events.

Frames are 50 ms with a 25 ms hop. Per frame: RMS level (dBFS), peak, spectral flatness, spectral centroid,
dominant frequency and how much of the energy sits at it (peakiness), zero-crossing rate and the strength of
a pitch period (autocorrelation). Frames are first split into active and silent runs (hysteresis, short gaps
bridged), then each active run into tone / broadband-noise / other runs; an "other" run is called speech-like
only when its loudness is modulated at syllable rate (3–8 Hz) and much of it is voiced, music-like only when it
is clearly harmonic, sustained and moves between at least three held pitches (notes) without that modulation,
and plain "sound" otherwise (a steady hum or a held chord stays "sound"). The labels say what the
signal shows and no more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SR = 16000
FRAME = 800  # 50 ms
HOP = 400  # 25 ms
NFFT = 1024
HOP_S = HOP / SR

SILENCE_DB = -50.0  # absolute floor: quieter frames are silence whatever the clip; louder pauses are "background"
LOUD_DB = -40.0  # frames louder than this are never silence, however loud the rest of the clip
ACTIVE_MARGIN_DB = 12.0  # a frame is active this far above the clip's noise floor (hysteresis: enter)
RELEASE_MARGIN_DB = 6.0  # … and stays active until it falls below floor + this (hysteresis: leave)
BRIDGE_S = 0.35  # silent gaps shorter than this inside a sound are bridged (pauses between words)
MIN_EVENT_S = 0.15  # shorter blips are dropped
MIN_SILENCE_S = 0.5  # silences shorter than this are not reported
BED_MARGIN_DB = 6.0  # broadband noise within this of the noise floor is the background bed, not a noise burst
MIN_TONE_S = 0.3  # a steady pitch shorter than this is a vowel or a beep inside something else, not a tone
#: A steady tone keeps this share of its energy at one frequency and its level within this many dB (standard
#: deviation): lavfi sines sit at 0.95+ and 0.1 dB; a held note of the corpus's music-on-hold (466 Hz, 0.4 s) and
#: the freedesktop "complete" chime (2646 Hz, decaying) fail one or the other (tests/fixtures/make_real_corpus.py).
PURE_PEAKINESS = 0.85
STEADY_LEVEL_DB = 3.0


@dataclass
class FrameFeatures:
    """Per-frame features of a clip; frame ``i`` is centred at ``offset + i * HOP_S + 0.025`` seconds."""

    offset: float
    db: np.ndarray
    peak: np.ndarray
    flatness: np.ndarray
    centroid: np.ndarray
    dominant: np.ndarray
    peakiness: np.ndarray
    zcr: np.ndarray
    voicing: np.ndarray
    f0: np.ndarray
    total_power: float = 0.0
    total_samples: int = 0
    duration: float = 0.0

    @property
    def count(self) -> int:
        """Number of frames."""
        return int(self.db.size)

    def time(self, index: int) -> float:
        """Start time of the hop-long cell of frame ``index`` (its centre minus half a hop)."""
        return self.offset + index * HOP_S + (FRAME - HOP) / 2 / SR


@dataclass
class Event:
    """A labelled span of the audio."""

    label: str
    start: float
    end: float
    confidence: float
    loudness_db: float
    peak_db: float
    extra: dict[str, Any] = field(default_factory=dict)


def _db(x: np.ndarray | float) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), 1e-10))


def _frames_of(samples: np.ndarray) -> dict[str, np.ndarray]:
    count = 1 + (samples.size - FRAME) // HOP
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    frames = samples[idx].astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    peak = np.max(np.abs(frames), axis=1)
    signs = np.signbit(frames)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    window = np.hanning(FRAME)
    power = np.abs(np.fft.rfft(frames * window, n=NFFT, axis=1)) ** 2
    freqs = np.fft.rfftfreq(NFFT, 1.0 / SR)
    band = (freqs >= 60) & (freqs <= 7600)
    p = power[:, band] + 1e-12
    flatness = np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)
    centroid = (p * freqs[band]).sum(axis=1) / p.sum(axis=1)
    top = np.argmax(p, axis=1)
    # energy within ±3 bins of the strongest bin (a Hann-windowed sine spreads over ~2 bins each side)
    near = np.abs(np.arange(p.shape[1])[None, :] - top[:, None]) <= 3
    peakiness = (p * near).sum(axis=1) / p.sum(axis=1)
    # parabolic interpolation of the peak bin for a sub-bin frequency estimate
    lp = np.log(p)
    k = np.clip(top, 1, p.shape[1] - 2)
    rows = np.arange(p.shape[0])
    a, b, c = lp[rows, k - 1], lp[rows, k], lp[rows, k + 1]
    denom = a - 2 * b + c
    safe = np.where(np.abs(denom) > 1e-12, denom, 1.0)
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / safe, 0.0)
    dominant = freqs[band][0] + (k + np.clip(shift, -0.5, 0.5)) * (SR / NFFT)
    # pitch: normalised autocorrelation peak at lags for 70–400 Hz
    centred = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(centred, n=2 * FRAME, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :FRAME]
    lo, hi = SR // 400, SR // 70
    energy = ac[:, 0] + 1e-12
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    voicing = ac[rows, lag] / energy
    f0 = SR / lag
    return {
        "db": _db(rms),
        "peak": peak,
        "flatness": flatness,
        "centroid": centroid,
        "dominant": dominant,
        "peakiness": peakiness,
        "zcr": zcr,
        "voicing": voicing,
        "f0": f0,
    }


def frame_features(blocks: Iterable[tuple[float, np.ndarray]], start: float = 0.0) -> FrameFeatures:
    """Features of a stream of ``(time, samples)`` blocks at 16 kHz (e.g. :func:`detective.media.iter_audio`).

    Blocks must be contiguous; only one block and a frame's worth of carry-over are held at a time.
    """
    parts: dict[str, list[np.ndarray]] = {}
    carry = np.zeros(0, dtype=np.float32)
    offset: float | None = None
    total_power = 0.0
    total = 0
    for block_start, block in blocks:
        if offset is None:
            offset = block_start
        total_power += float(np.sum(block.astype(np.float64) ** 2))
        total += block.size
        buffer = np.concatenate([carry, block])
        if buffer.size >= FRAME:
            feats = _frames_of(buffer)
            used = feats["db"].size * HOP
            for key, value in feats.items():
                parts.setdefault(key, []).append(value)
            carry = buffer[used:]
        else:
            carry = buffer
    names = ("db", "peak", "flatness", "centroid", "dominant", "peakiness", "zcr", "voicing", "f0")
    arrays = {n: np.concatenate(parts[n]) if n in parts else np.zeros(0) for n in names}
    return FrameFeatures(
        offset=offset if offset is not None else start,
        total_power=total_power,
        total_samples=total,
        duration=total / SR,
        **arrays,
    )


# --- segmentation ------------------------------------------------------------------------------------------


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index pairs of the True runs of ``mask``."""
    if mask.size == 0:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def noise_floor(ff: FrameFeatures) -> float:
    """The clip's noise floor: the level (dBFS) of its quietest 5% of frames."""
    return float(np.percentile(ff.db, 5)) if ff.count else SILENCE_DB


def _active(ff: FrameFeatures) -> tuple[np.ndarray, float]:
    """Active (non-silent) frames, with hysteresis around the clip's noise floor and short gaps bridged."""
    floor = noise_floor(ff)
    # Over a quiet floor (a noise bed at -41 dBFS included) a frame is active well above that floor; a clip that is
    # loud throughout has no quiet floor, so there never ask more than LOUD_DB to call a frame active.
    enter = max(SILENCE_DB, floor + ACTIVE_MARGIN_DB) if floor <= LOUD_DB else LOUD_DB
    leave = enter - (ACTIVE_MARGIN_DB - RELEASE_MARGIN_DB)
    active = np.zeros(ff.count, dtype=bool)
    on = False
    for i, level in enumerate(ff.db):
        on = level >= enter if not on else level >= leave
        active[i] = on
    bridge = round(BRIDGE_S / HOP_S)
    for a, b in _runs(~active):
        if a > 0 and b < ff.count and b - a <= bridge:
            active[a:b] = True
    return active, leave


def _smooth(labels: np.ndarray, width: int = 5) -> np.ndarray:
    """Majority vote over a sliding window (odd ``width``) of small integer labels."""
    if labels.size < width:
        return labels
    pad = width // 2
    padded = np.pad(labels, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    counts = np.stack([(windows == k).sum(axis=1) for k in range(int(labels.max()) + 1)], axis=1)
    return np.argmax(counts, axis=1)


TONE, NOISE, OTHER = 0, 1, 2


def _frame_classes(ff: FrameFeatures, a: int, b: int, quiet_db: float) -> np.ndarray:
    """Per-frame class inside an active run; quiet frames (pauses) take the class of the sound before them."""
    peaky = ff.peakiness[a:b]
    flat = ff.flatness[a:b]
    cls = np.full(b - a, OTHER)
    cls[(peaky > 0.6) & (flat < 0.05)] = TONE
    cls[(flat > 0.35) & (peaky < 0.2)] = NOISE
    quiet_db = max(quiet_db, float(ff.db[a:b].max()) - 25.0)  # breaths and fades are part of the sound
    loud = np.flatnonzero(ff.db[a:b] >= quiet_db)
    if loud.size:
        # forward-fill from the last loud frame (frames before the first loud one take its class)
        source = np.maximum.accumulate(np.where(ff.db[a:b] >= quiet_db, np.arange(b - a), -1))
        cls = cls[np.where(source >= 0, source, loud[0])]
    cls = _smooth(cls, 7)
    # a tone holds one frequency, at one level, with nearly all its energy at it; a vowel's harmonic, a held
    # note of music (overtones, vibrato, a beat under it) and a chime's decay do not
    for s, e in _runs(cls == TONE):
        freq = ff.dominant[a + s : a + e]
        steady = e - s >= round(MIN_TONE_S / HOP_S) and np.std(freq) <= 0.02 * max(np.median(freq), 1.0)
        pure = float(np.median(ff.peakiness[a + s : a + e])) >= PURE_PEAKINESS
        inner = ff.db[a + s + (e - s) // 10 : a + e - (e - s) // 10]  # without the onset and release
        level = inner.size > 0 and float(np.std(inner)) <= STEADY_LEVEL_DB
        if not (steady and pure and level):
            cls[s:e] = OTHER
    return cls


def _modulation(db: np.ndarray) -> tuple[float, float]:
    """Share of the loudness envelope's modulation power at 2–9 Hz, and the syllable rate (peaks per second).

    Syllables come at 3–8 Hz; the band is widened because pauses between words smear the envelope's spectrum.
    """
    if db.size < round(0.6 / HOP_S):
        return 0.0, 0.0
    env = np.maximum(db, db.max() - 40.0)
    if float(np.std(env)) < 2.0:  # a steady level has no modulation to speak of
        return 0.0, 0.0
    env = env - env.mean()
    n = max(256, 1 << int(np.ceil(np.log2(env.size))))
    spec = np.abs(np.fft.rfft(env * np.hanning(env.size), n=n)) ** 2
    freqs = np.fft.rfftfreq(n, HOP_S)
    total = spec[(freqs >= 0.5) & (freqs <= 15.0)].sum() + 1e-12
    share = float(spec[(freqs >= 2.0) & (freqs <= 9.0)].sum() / total)
    # syllable nuclei: local maxima of the smoothed envelope standing 6 dB over the dips around them
    smooth = np.convolve(db, np.ones(3) / 3, mode="same")
    peaks = 0
    last_peak = -100
    for i in range(1, smooth.size - 1):
        if smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1] and i - last_peak >= 4:
            lo = smooth[max(0, i - 8) : i].min(initial=smooth[i])
            hi = smooth[i + 1 : i + 9].min(initial=smooth[i])
            if smooth[i] - max(lo, hi) >= 6.0:
                peaks += 1
                last_peak = i
    return share, peaks / (db.size * HOP_S)


def _event(ff: FrameFeatures, a: int, b: int, label: str, confidence: float, **extra: Any) -> Event:
    power = np.mean(10 ** (ff.db[a:b] / 10.0))
    return Event(
        label=label,
        start=round(ff.time(a), 3),
        end=round(ff.time(b), 3),
        confidence=round(float(np.clip(confidence, 0.0, 1.0)), 3),
        loudness_db=round(float(_db(np.sqrt(power))), 1),
        peak_db=round(float(_db(ff.peak[a:b].max())), 1),
        extra=extra,
    )


def _notes(dominant: np.ndarray) -> int:
    """How many distinct steady pitches (held 0.2 s or more, a semitone or more apart) the span holds."""
    hold = round(0.2 / HOP_S)
    semitones = np.round(12 * np.log2(np.maximum(dominant, 20.0) / 440.0))
    held: set[float] = set()
    start = 0
    for i in range(1, semitones.size + 1):
        if i == semitones.size or semitones[i] != semitones[start]:
            if i - start >= hold:
                held.add(float(semitones[start]))
            start = i
    return len(held)


def _describe_other(ff: FrameFeatures, a: int, b: int) -> Event:
    """Label a run that is neither a pure tone nor broadband noise."""
    seconds = (b - a) * HOP_S
    share, rate = _modulation(ff.db[a:b])
    voiced = ff.voicing[a:b] > 0.5
    loud = ff.db[a:b] > ff.db[a:b].max() - 30.0
    voiced_share = float(voiced[loud].mean()) if loud.any() else 0.0
    harmonic = float(np.median(ff.flatness[a:b])) < 0.02 and float(np.median(ff.peakiness[a:b])) > 0.3
    if seconds >= 0.5 and share >= 0.2 and voiced_share >= 0.2 and 1.5 <= rate <= 9.0:
        f0 = ff.f0[a:b][voiced & loud]
        pace = "fast" if rate > 4.5 else ("moderate" if rate >= 2.5 else "slow")
        extra: dict[str, Any] = {"pace": pace, "syllable_rate": round(rate, 2)}
        if f0.size >= 5:
            extra["pitch_hz"] = round(float(np.median(f0)), 1)
        return _event(ff, a, b, "speech-like", 0.4 + share * 0.6, **extra)
    notes = _notes(ff.dominant[a:b])
    if seconds >= 2.0 and harmonic and share < 0.2 and notes >= 3:
        return _event(ff, a, b, "music-like", min(0.9, 0.5 + 0.1 * notes), notes=notes)
    return _event(ff, a, b, "sound", 0.5)


def segment(ff: FrameFeatures) -> list[Event]:
    """Labelled events (silences of ``MIN_SILENCE_S`` or more included), in time order."""
    events: list[Event] = []
    active, quiet = _active(ff)
    floor = noise_floor(ff)
    min_frames = round(MIN_EVENT_S / HOP_S)
    min_piece = round(MIN_TONE_S / HOP_S)
    for a, b in _runs(~active):
        if (b - a) * HOP_S >= MIN_SILENCE_S:
            # A pause is silence only when it is really quiet; a steady noise bed (room tone, hiss) between sounds
            # is a quiet background, never "silence".
            level = float(_db(np.sqrt(np.mean(10 ** (ff.db[a:b] / 10.0)))))
            if level <= SILENCE_DB:
                events.append(_event(ff, a, b, "silence", 0.9))
            else:
                events.append(_event(ff, a, b, "background", 0.7, noise_floor_db=round(level, 1)))
    for a, b in _runs(active):
        if b - a < min_frames:
            continue
        classes = _frame_classes(ff, a, b, quiet)
        pieces: list[tuple[int, int, int]] = []
        for cls in (TONE, NOISE, OTHER):
            pieces += [(a + s, a + e, cls) for s, e in _runs(classes == cls)]
        pieces.sort()
        # short pieces join the previous piece (a tone's fade or a consonant's hiss are not events)
        merged: list[list[int]] = []
        for s, e, cls in pieces:
            if merged and (e - s < min_piece or merged[-1][2] == cls):
                merged[-1][1] = e
            else:
                merged.append([s, e, cls])
        for s, e, cls in merged:
            if e - s < min_frames:
                continue
            if cls == TONE:
                freq = float(np.median(ff.dominant[s:e]))
                events.append(_event(ff, s, e, "tone", float(np.mean(ff.peakiness[s:e])), frequency_hz=round(freq, 1)))
            elif cls == NOISE:
                noise = _event(ff, s, e, "broadband noise", 0.5 + float(np.mean(ff.flatness[s:e])))
                if noise.loudness_db <= floor + BED_MARGIN_DB:  # the noise bed itself, not a burst over it
                    noise = _event(ff, s, e, "background", 0.7, noise_floor_db=round(noise.loudness_db, 1))
                events.append(noise)
            else:
                events.append(_describe_other(ff, s, e))
    return sorted(events, key=lambda e: (e.start, e.end))


def summary(ff: FrameFeatures, events: list[Event]) -> dict[str, float]:
    """Whole-clip loudness (dBFS RMS) and the shares of time that are speech-like and silent."""
    duration = max(ff.count * HOP_S, 1e-9)
    speech = sum(e.end - e.start for e in events if e.label == "speech-like")
    inactive = ~_active(ff)[0] if ff.count else np.zeros(0, dtype=bool)
    silent = float((inactive & (ff.db <= SILENCE_DB)).sum()) * HOP_S
    power = ff.total_power / max(ff.total_samples, 1)
    floor = noise_floor(ff)
    return {
        "loudness_db": round(float(_db(np.sqrt(power))), 1),
        "speech_ratio": round(min(1.0, speech / duration), 3),
        "silence_ratio": round(min(1.0, silent / duration), 3),
        "noise_floor_db": round(max(floor, -120.0), 1),
    }


def analyse(blocks: Iterable[tuple[float, np.ndarray]]) -> tuple[list[Event], dict[str, float]]:
    """Features, events and summary of a stream of 16 kHz blocks."""
    ff = frame_features(blocks)
    events = segment(ff)
    return events, summary(ff, events)
