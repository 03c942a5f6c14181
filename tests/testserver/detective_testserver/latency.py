"""How long the server holds a reply: a fixed delay, a uniform range, a log-normal like a real API, or any
function of the server's seeded random generator (so a run replays)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

#: The 95th percentile of the standard normal distribution.
_Z95 = 1.6448536269514722


@dataclass(frozen=True)
class LogNormal:
    """Log-normal reply times given by their median and 95th percentile, in seconds.

    Real chat endpoints answer like this: most replies near the median, a long tail of slow ones (the defaults,
    1.5 s median and 6 s at p95, are a hosted model's under load).
    """

    median: float = 1.5
    p95: float = 6.0
    mu: float = field(init=False)
    sigma: float = field(init=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.median <= self.p95:
            raise ValueError(f"LogNormal needs 0 < median <= p95, got median={self.median}, p95={self.p95}")
        object.__setattr__(self, "mu", math.log(self.median))
        object.__setattr__(self, "sigma", math.log(self.p95 / self.median) / _Z95)

    @property
    def mean(self) -> float:
        """The distribution's mean, in seconds (above the median: the tail pulls it up)."""
        return math.exp(self.mu + self.sigma**2 / 2.0)

    def __call__(self, rng: random.Random) -> float:
        """One reply time drawn with ``rng``."""
        return rng.lognormvariate(self.mu, self.sigma)


#: A reply time: seconds, ``(low, high)`` for a uniform draw, or a function of the random generator.
Latency = float | tuple[float, float] | Callable[[random.Random], float]


def draw(latency: Latency, rng: random.Random) -> float:
    """Seconds to hold one reply. A fixed delay draws nothing from ``rng`` (the fault draws replay alike)."""
    if isinstance(latency, tuple):
        return rng.uniform(*latency)
    if callable(latency):
        return max(0.0, float(latency(rng)))
    return float(latency)
