"""Scoring of speaker turns against ground truth: turn attribution accuracy and diarisation error rate (DER).

pyannote.metrics would be the well-kept scorer, but it pulls pandas, pyannote.core and pyannote.database into the
test environment; these few lines implement the standard definitions on a 10 ms grid instead:

- hypothesis speakers are mapped one-to-one to reference speakers to maximise overlapping time (Hungarian
  assignment, as in NIST md-eval and pyannote);
- **DER** = (missed speech + false-alarm speech + speaker confusion) / reference speech, no collar, no overlap;
- **attribution accuracy** = reference speech time whose hypothesis speaker is the mapped reference speaker,
  over all reference speech time (missed speech counts as wrongly attributed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

STEP = 0.01


@dataclass
class Score:
    """The scores of one clip."""

    accuracy: float
    der: float
    missed: float
    false_alarm: float
    confusion: float
    reference_seconds: float


def _grid(turns: Sequence[tuple[str, float, float]], names: dict[str, int], size: int) -> np.ndarray:
    grid = np.full(size, -1, dtype=int)
    for speaker, start, end in turns:
        grid[round(start / STEP) : round(end / STEP)] = names.setdefault(speaker, len(names))
    return grid


def score(
    reference: Sequence[tuple[str, float, float]], hypothesis: Sequence[tuple[str, float, float]], duration: float
) -> Score:
    """Score ``hypothesis`` turns ``(speaker, start, end)`` against ``reference`` turns over ``duration`` s."""
    size = round(duration / STEP) + 1
    ref_names: dict[str, int] = {}
    hyp_names: dict[str, int] = {}
    ref = _grid(reference, ref_names, size)
    hyp = _grid(hypothesis, hyp_names, size)
    overlap = np.zeros((max(1, len(ref_names)), max(1, len(hyp_names))))
    both = (ref >= 0) & (hyp >= 0)
    np.add.at(overlap, (ref[both], hyp[both]), 1)
    rows, cols = linear_sum_assignment(-overlap)
    mapping = dict(zip(cols.tolist(), rows.tolist(), strict=True))
    mapped = np.array([mapping.get(int(h), -2) if h >= 0 else -1 for h in hyp])
    total = float((ref >= 0).sum())
    missed = float(((ref >= 0) & (hyp < 0)).sum())
    false_alarm = float(((ref < 0) & (hyp >= 0)).sum())
    confusion = float((both & (mapped != ref)).sum())
    correct = float((both & (mapped == ref)).sum())
    if total == 0:
        return Score(
            1.0 if false_alarm == 0 else 0.0, 0.0 if false_alarm == 0 else 1.0, 0.0, false_alarm * STEP, 0.0, 0.0
        )
    return Score(
        accuracy=correct / total,
        der=(missed + false_alarm + confusion) / total,
        missed=missed * STEP,
        false_alarm=false_alarm * STEP,
        confusion=confusion * STEP,
        reference_seconds=total * STEP,
    )
