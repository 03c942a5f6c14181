"""The digest of the evidence board: the board as text for a prompt (planner, captioner) or a reader (debugging).

One way of rendering each line — an observation (:func:`observation_line`), a contradiction
(:func:`contradiction_line`), a failed run (:func:`failure_line`) and what was examined (:func:`coverage_lines`) —
and one :func:`digest` that puts them together by a :class:`Layout`: which sections, how many lines of each, how
wide, and an optional byte budget. The uses differ only in their layout:

- :data:`BOARD` — every section, exact times and confidences: the ``evidence`` captioner and debugging
  (:func:`board_digest`);
- :data:`CHAT` — every section, short times, no confidences: the ``chat`` captioner's evidence;
- :data:`PLANNER` — short times, no confidences, the contradictions and failures first, within the planner's
  byte budget (:func:`planner_digest`);
- :data:`COVERAGE` — what was examined, how, or not at all: the LLM captioner's ``coverage`` data
  (:func:`coverage_digest`);
- :data:`CONTRADICTIONS` — the contradictions alone: the LLM planner's note between function-calling rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from detective.evidence import coverage
from detective.models import Evidence, Observation, Relation, ToolFailure

__all__ = [
    "BOARD",
    "CHAT",
    "CONTRADICTIONS",
    "COVERAGE",
    "PLANNER",
    "Layout",
    "board_digest",
    "contradiction_line",
    "coverage_digest",
    "coverage_lines",
    "digest",
    "failure_line",
    "observation_line",
    "planner_digest",
]

#: The narrowest an observation's content is cut to when a digest must fit a byte budget.
MIN_WIDTH = 40
#: Bytes kept free within a budget for the line that counts what was left out.
LEFT_OUT_BYTES = 40


@dataclass(frozen=True)
class Layout:
    """What a digest shows: how many lines of each section (``None``: all; ``0``: none) and how wide."""

    observations: int | None = 60
    width: int = 240
    exact: bool = True
    contradictions: int = 20
    failures: int = 10
    failure_width: int = 200
    coverage: bool = True
    empty: str = "(no observations yet)"


BOARD = Layout()
CHAT = Layout(observations=500, exact=False)
PLANNER = Layout(
    observations=None, width=160, exact=False, contradictions=10, failures=5, failure_width=100, coverage=False
)
COVERAGE = Layout(observations=0, contradictions=0, failures=0, empty="- nothing was examined")
CONTRADICTIONS = Layout(observations=0, failures=0, coverage=False, empty="")


def observation_line(obs: Observation, width: int, *, exact: bool = True) -> str:
    """``[start-end s] tool/kind conf=…: content``, the content on one line and cut to ``width`` (``…`` marks a cut).

    ``exact``: times to the hundredth, aligned, and the confidence; otherwise times to the tenth, no confidence.
    """
    if exact:
        when = f"{obs.span.start:7.2f}-{obs.span.end:7.2f}s" if obs.span else "      whole clip"
    else:
        when = f"{obs.span.start:.1f}-{obs.span.end:.1f}s" if obs.span else "clip"
    conf = f" conf={obs.confidence:.2f}" if exact and obs.confidence is not None else ""
    text = " ".join(obs.content.split())
    return f"[{when}] {obs.tool}/{obs.kind}{conf}: {text[:width]}{'…' if len(text) > width else ''}"


def contradiction_line(rel: Relation) -> str:
    """``CONTRADICTION: <note>``."""
    return f"CONTRADICTION: {rel.note}"


def failure_line(failure: ToolFailure, width: int = 200) -> str:
    """``FAILED: tool: <error>``, the error without its exception's name and cut to ``width``."""
    return f"FAILED: {failure.tool}: {failure.error.split(': ', 1)[-1][:width]}"


def coverage_lines(evidence: Evidence) -> list[str]:
    """One line per aspect examined (and how), the observers that failed everywhere, the spans not decoded."""
    lines = []
    for aspect, words in coverage.ASPECT_WORDS.items():
        if coverage.runs(evidence, aspect):
            lines.append(f"- {words}: examined ({coverage.how(evidence, aspect)})")
    failed = sorted({c.tool for c in evidence.coverage if not c.ok} - {c.tool for c in evidence.coverage if c.ok})
    if failed:
        lines.append(f"- failed observers (nothing known from them): {', '.join(failed)}")
    damaged = coverage.undecoded_sentence(evidence)
    if damaged:
        lines.append(f"- {damaged}")
    return lines


def digest(evidence: Evidence, layout: Layout = BOARD, max_bytes: int | None = None) -> str:
    """The board as text by ``layout``: observations in time order, contradictions, failures, coverage.

    With ``max_bytes`` the digest fits that many bytes: the contradictions and failures come first (they are never
    what is left out), observations' content is cut shorter (down to :data:`MIN_WIDTH`), then the latest
    observations are left out and counted.
    """
    if max_bytes is not None and max_bytes <= 0:
        return f"({len(evidence.observations)} observations; left out, the model's context is full)"
    ordered = sorted(evidence.observations, key=lambda o: (o.span.start if o.span else -1.0, o.tool))
    shown = ordered if layout.observations is None else ordered[: layout.observations]
    notes = [contradiction_line(r) for r in evidence.contradictions[: layout.contradictions]]
    notes += [failure_line(f, layout.failure_width) for f in evidence.failures[-layout.failures :] if layout.failures]
    if max_bytes is None:
        lines = [observation_line(o, layout.width, exact=layout.exact) for o in shown]
        if layout.observations and len(ordered) > len(shown):
            lines.append(f"... {len(ordered) - len(shown)} more observations")
        lines += notes + (coverage_lines(evidence) if layout.coverage else [])
        return "\n".join(lines) or layout.empty
    width = layout.width
    while True:
        lines = [observation_line(o, width, exact=layout.exact) for o in shown]
        if len("\n".join(notes + lines).encode()) <= max_bytes or width <= MIN_WIDTH:
            break
        width = width * 2 // 3
    kept = notes + lines
    while kept and len("\n".join(kept).encode()) > max_bytes - LEFT_OUT_BYTES:
        kept.pop()
    left = len(notes) + len(lines) - len(kept)
    return "\n".join(kept) + (f"\n... {left} more left out" if left else "")


def board_digest(evidence: Evidence, limit: int = 60, width: int = 240) -> str:
    """The whole board for a reader: at most ``limit`` observations cut to ``width``, then every other section."""
    return digest(evidence, replace(BOARD, observations=limit, width=width))


def planner_digest(evidence: Evidence, max_bytes: int, width: int = 160) -> str:
    """The board for a planner prompt in at most ``max_bytes`` (:data:`PLANNER`)."""
    return digest(evidence, replace(PLANNER, width=width), max_bytes)


def coverage_digest(evidence: Evidence) -> str:
    """What the observers examined, how, or that nothing was: one ``- …`` line each (:data:`COVERAGE`)."""
    return digest(evidence, COVERAGE)
