"""omni-detective plugin: the ``clipping`` tool finds spans where the audio reaches full scale.

Clipping is a signal-level detail that listeners notice (a harsh, distorted sound) and that a caption should
mention. The tool reads the audio in blocks, marks every 50 ms window holding samples at (or within 0.1 % of) full
scale, and merges neighbouring windows into spans.
"""

from __future__ import annotations

import numpy as np

import detective
from detective.media import iter_audio
from detective.models import MediaInfo, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool

SAMPLE_RATE = 16000
WINDOW = 0.05  # seconds
FULL_SCALE = 0.999
MERGE_GAP = 0.25  # windows closer than this join one span


class ClippingTool(Tool):
    """Spans of the audio that clip, each with how many samples hit full scale."""

    name = "clipping"
    description = "Finds spans where the audio clips (samples at full scale), a sign of distortion."
    input_model = SpanInput
    modalities = ("audio",)
    version = "0.1.0"

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Scan the clip (or the query's span) and report each clipping span."""
        start = query.span.start if query.span else 0.0
        end = query.span.end if query.span else media.duration
        hits: list[tuple[float, int]] = []  # (window start, clipped samples in it)
        step = int(WINDOW * SAMPLE_RATE)
        for offset, block in iter_audio(media.path or media.source, block_seconds=30.0, sr=SAMPLE_RATE):
            clipped = np.abs(block) >= FULL_SCALE
            for i in range(0, len(block), step):
                t = offset + i / SAMPLE_RATE
                count = int(clipped[i : i + step].sum())
                if count and start <= t < end:
                    hits.append((t, count))
        return [
            Observation(
                tool=self.name,
                kind="sound_event",
                content="clipping",
                span=TimeSpan(start=round(s, 3), end=round(min(e, media.duration), 3)),
                confidence=1.0,
                payload={"label": "clipping", "clipped_samples": n},
            )
            for s, e, n in _merge(hits)
        ]


def _merge(hits: list[tuple[float, int]]) -> list[tuple[float, float, int]]:
    spans: list[tuple[float, float, int]] = []
    for t, count in hits:
        if spans and t - spans[-1][1] <= MERGE_GAP:
            s, _, n = spans[-1]
            spans[-1] = (s, t + WINDOW, n + count)
        else:
            spans.append((t, t + WINDOW, count))
    return spans


@detective.hookimpl
def register_tools(register):
    """Register the clipping tool (``clip`` is an alias)."""
    register(ClippingTool(), aliases=["clip"])
