"""Text tracks: the same (normalised) text seen in consecutive samples becomes one track with a start and end."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

#: Text lines scoring below this are dropped before tracking.
MIN_SCORE = 0.8


def normalise(text: str) -> str:
    """The comparison key of a text line: case-folded, whitespace collapsed, edge punctuation stripped."""
    return " ".join(text.casefold().split()).strip(" .,:;!?'\"-_|")


def is_junk(text: str) -> bool:
    """True for detector noise: fewer than two letters or digits in the line."""
    return len(re.findall(r"\w", normalise(text))) < 2


@dataclass
class Sighting:
    """One kept line in one sample: normalised box ``[x0, y0, x1, y1]`` in 0..1 and its appearance."""

    text: str
    score: float
    box: tuple[float, float, float, float]
    color: str
    background: str


@dataclass
class Track:
    """A text line followed over samples."""

    key: str
    first: int
    last: int
    sightings: list[Sighting] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The most frequent spelling seen (ties: the best-scoring one)."""
        counts = Counter(s.text for s in self.sightings)
        best = max(self.sightings, key=lambda s: (counts[s.text], s.score))
        return best.text

    @property
    def score(self) -> float:
        """Mean recognition score."""
        return float(statistics.fmean(s.score for s in self.sightings))

    @property
    def box(self) -> tuple[float, float, float, float]:
        """Median box over the sightings."""
        arr = np.median(np.array([s.box for s in self.sightings]), axis=0)
        return (float(arr[0]), float(arr[1]), float(arr[2]), float(arr[3]))

    def most_common(self, attr: str) -> str:
        """The most frequent value of a sighting attribute (``color`` or ``background``)."""
        return Counter(getattr(s, attr) for s in self.sightings).most_common(1)[0][0]


def _near(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Boxes whose centres are within a quarter of the frame of each other (same place on screen)."""
    return abs((a[0] + a[2]) - (b[0] + b[2])) / 2 < 0.25 and abs((a[1] + a[3]) - (b[1] + b[3])) / 2 < 0.25


def build_tracks(samples: list[list[Sighting]], max_gap: int = 1) -> list[Track]:
    """Link sightings of the same text at the same place across samples.

    ``samples[i]`` are the sightings of sample ``i`` (time order). A sighting continues an open track with the
    same normalised text near the same place whose last sample is at most ``max_gap`` samples back (so one
    missed frame inside a caption does not split it).
    """
    done: list[Track] = []
    open_tracks: list[Track] = []
    for index, sightings in enumerate(samples):
        still_open: list[Track] = []
        for track in open_tracks:
            (still_open if index - track.last <= max_gap + 1 else done).append(track)
        open_tracks = still_open
        for sighting in sightings:
            key = normalise(sighting.text)
            match = next(
                (
                    t
                    for t in open_tracks
                    if t.key == key and t.last < index and _near(t.sightings[-1].box, sighting.box)
                ),
                None,
            )
            if match is None:
                match = Track(key=key, first=index, last=index)
                open_tracks.append(match)
            match.last = index
            match.sightings.append(sighting)
    done.extend(open_tracks)
    return sorted(done, key=lambda t: (t.first, t.sightings[0].box[1], t.sightings[0].box[0]))
