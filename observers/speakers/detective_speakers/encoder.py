"""Resemblyzer's GE2E voice encoder, run in numpy: 40-band mel power spectrogram → 3-layer LSTM → embedding.

The weights are Resemblyzer 0.1.4's ``pretrained.pt`` (Apache-2.0), converted without torch by
``scripts/convert_resemblyzer.py`` and shipped as float16 in ``weights/ge2e_resemblyzer.npz``. The front end
matches ``librosa.feature.melspectrogram(sr=16000, n_fft=400, hop_length=160, n_mels=40)`` (centred frames,
periodic Hann window, Slaney mel filters), which is what the encoder was trained on.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

SR = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms: one mel frame per 10 ms
N_MELS = 40
HIDDEN = 256
LAYERS = 3
WINDOW_FRAMES = 160  # 1.6 s: the partial-utterance length the encoder was trained on
TARGET_DBFS = -30.0  # Resemblyzer's volume normalisation (raise quiet audio only)
WEIGHTS = Path(__file__).resolve().parent / "weights" / "ge2e_resemblyzer.npz"


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = 3.0 * f / 200.0
    log = f >= 1000.0
    return np.where(log, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    hz = 200.0 * m / 3.0
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), hz)


@functools.cache
def mel_filters() -> np.ndarray:
    """The ``(40, 201)`` Slaney-normalised mel filter bank (librosa's default)."""
    freqs = np.linspace(0.0, SR / 2, 1 + N_FFT // 2)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SR / 2), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """``(frames, 40)`` mel power spectrogram of 16 kHz samples, one frame per 10 ms (centred, zero padded)."""
    x = np.pad(np.asarray(samples, dtype=np.float32), N_FFT // 2)
    count = 1 + (x.size - N_FFT) // HOP
    if count <= 0:
        return np.zeros((0, N_MELS), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP][:count]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power.astype(np.float32) @ mel_filters().T).astype(np.float32)


def normalise_volume(samples: np.ndarray) -> np.ndarray:
    """Raise quiet audio to -30 dBFS RMS, as the encoder's training data was (loud audio is left alone)."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    if rms <= 1e-6:
        return samples
    gain_db = TARGET_DBFS - 20.0 * np.log10(rms)
    return samples * np.float32(10 ** (gain_db / 20.0)) if gain_db > 0 else samples


class VoiceEncoder:
    """The GE2E speaker encoder: a batch of mel windows → L2-normalised 256-d voice embeddings."""

    def __init__(self, weights: Path = WEIGHTS) -> None:
        with np.load(weights) as data:
            w = {k: data[k].astype(np.float32) for k in data.files}
        # PyTorch's gate order is input, forget, cell, output: reorder to input, forget, output, cell so the three
        # sigmoid gates are contiguous, and pre-scale them by 1/2 (sigmoid(x) = (tanh(x / 2) + 1) / 2)
        order = np.concatenate(
            [np.arange(0, 2 * HIDDEN), np.arange(3 * HIDDEN, 4 * HIDDEN), np.arange(2 * HIDDEN, 3 * HIDDEN)]
        )
        scale = np.where(np.arange(4 * HIDDEN) < 3 * HIDDEN, 0.5, 1.0).astype(np.float32)
        self.w_ih = [np.ascontiguousarray(w[f"lstm.weight_ih_l{k}"][order].T * scale) for k in range(LAYERS)]
        self.w_hh = [np.ascontiguousarray(w[f"lstm.weight_hh_l{k}"][order].T * scale) for k in range(LAYERS)]
        self.bias = [(w[f"lstm.bias_ih_l{k}"] + w[f"lstm.bias_hh_l{k}"])[order] * scale for k in range(LAYERS)]
        self.linear_w = np.ascontiguousarray(w["linear.weight"].T)
        self.linear_b = w["linear.bias"]

    def embed(self, mels: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Embeddings ``(batch, 256)`` of a batch of mel windows ``(batch, frames, 40)``.

        Windows shorter than ``frames`` are left-aligned and zero-padded, with their true frame counts in
        ``lengths``: the LSTM is causal, so the hidden state at a window's own last frame is exactly its
        embedding's input, whatever padding follows. This lets windows of every length share one batch.
        """
        # the matrix products are small (batch x 256 by 256 x 1024 per step): BLAS threads only contend
        with threadpool_limits(limits=1, user_api="blas"):
            return self._embed(mels, lengths)

    def _embed(self, mels: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        batch, steps, _ = mels.shape
        lengths = np.full(batch, steps) if lengths is None else np.clip(np.asarray(lengths), 1, steps)
        x = mels.astype(np.float32)
        final = np.zeros((batch, HIDDEN), dtype=np.float32)
        for layer in range(LAYERS):
            # the input projection of every step at once; only the recurrence is sequential
            projected = (x.reshape(batch * steps, -1) @ self.w_ih[layer] + self.bias[layer]).reshape(batch, steps, -1)
            h = np.zeros((batch, HIDDEN), dtype=np.float32)
            c = np.zeros((batch, HIDDEN), dtype=np.float32)
            last = layer == LAYERS - 1
            outputs = None if last else np.empty((batch, steps, HIDDEN), dtype=np.float32)
            for t in range(int(lengths.max())):
                gates = projected[:, t] + h @ self.w_hh[layer]
                act = np.tanh(gates, out=gates)  # one call for all four gates
                sig = act[:, : 3 * HIDDEN]
                sig *= 0.5
                sig += 0.5
                i, f, o, g = (act[:, k * HIDDEN : (k + 1) * HIDDEN] for k in range(4))
                c = f * c + i * g
                h = o * np.tanh(c)
                if outputs is not None:
                    outputs[:, t] = h
                else:
                    done = lengths == t + 1
                    if done.any():
                        final[done] = h[done]
            if outputs is not None:
                x = outputs
        raw = np.maximum(final @ self.linear_w + self.linear_b, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.maximum(norms, 1e-9)


@functools.cache
def default_encoder() -> VoiceEncoder:
    """The shipped encoder, loaded once per process."""
    return VoiceEncoder()
