"""The one digest of the evidence board: one rendering per line, layouts for the planner, captioners and readers."""

from __future__ import annotations

from dataclasses import replace

from detective.evidence.digest import (
    BOARD,
    CONTRADICTIONS,
    COVERAGE,
    PLANNER,
    board_digest,
    coverage_digest,
    digest,
    observation_line,
    planner_digest,
)
from detective.models import Coverage, Evidence, Observation, Relation, TimeSpan, ToolFailure


def _obs(text: str, start: float | None, tool: str = "asr", conf: float | None = 0.9) -> Observation:
    span = TimeSpan(start=start, end=start + 1.5) if start is not None else None
    return Observation(tool=tool, kind="speech", content=text, span=span, confidence=conf)


def _board(n: int = 3, text: str = "hello  there\nfriend") -> Evidence:
    a, b = _obs("Jon Smyth", 1.0), _obs("John Smith", 1.0, tool="ocr")
    return Evidence(
        observations=[_obs(f"{text} {i}", float(i)) for i in range(n)],
        contradictions=[
            Relation(kind="contradiction", a=a.key, b=b.key, tools=("asr", "ocr"), a_says="x", b_says="y", note="n")
        ],
        failures=[ToolFailure(tool="vision_llm", query_key="q", error="LLMError: endpoint down")],
        coverage=[Coverage(tool="asr", query_key="q1", modalities=["audio"], aspects=["speech"], ok=True)],
    )


def test_an_observation_line_exact_or_short() -> None:
    obs = _obs("one  two\nthree", 1.234)
    assert observation_line(obs, 240) == "[   1.23-   2.73s] asr/speech conf=0.90: one two three"
    assert observation_line(obs, 7, exact=False) == "[1.2-2.7s] asr/speech: one two…"
    assert observation_line(_obs("x", None, conf=None), 9) == "[      whole clip] asr/speech: x"


def test_the_board_layout_has_every_section_in_order() -> None:
    lines = board_digest(_board(), limit=2).splitlines()
    assert lines[0].startswith("[   0.00-   1.50s] asr/speech conf=0.90: hello there friend 0")
    assert lines[2:] == [
        "... 1 more observations",
        "CONTRADICTION: n",
        "FAILED: vision_llm: endpoint down",
        "- speech: examined (by asr)",
    ]
    assert board_digest(Evidence()) == "(no observations yet)"


def test_the_coverage_and_contradiction_layouts_show_their_section_only() -> None:
    board = _board()
    assert coverage_digest(board) == digest(board, COVERAGE) == "- speech: examined (by asr)"
    assert coverage_digest(Evidence()) == "- nothing was examined"
    assert digest(board, CONTRADICTIONS) == "CONTRADICTION: n"


def test_a_planner_digest_fits_its_budget_and_keeps_the_contradictions() -> None:
    board = _board(40, "a long sentence of speech " * 10)
    whole = digest(board, PLANNER)
    assert len(whole.encode()) > 2000
    fitted = planner_digest(board, 2000)
    assert len(fitted.encode()) <= 2000
    lines = fitted.splitlines()
    assert lines[:2] == ["CONTRADICTION: n", "FAILED: vision_llm: endpoint down"]
    assert lines[-1].startswith("... ") and lines[-1].endswith(" more left out")
    assert all(len(line) < 120 for line in lines[2:-1])  # cut shorter before any line was left out
    assert planner_digest(board, 0).startswith("(40 observations; left out")
    roomy = planner_digest(board, 100_000).splitlines()  # nothing cut: the same lines, the notes first
    assert roomy[:2] == lines[:2] and sorted(roomy) == sorted(digest(board, PLANNER).splitlines())
    assert digest(board, replace(BOARD, coverage=False)).splitlines()[-1] == "FAILED: vision_llm: endpoint down"
