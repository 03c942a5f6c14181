"""The offline Detective with ``scene`` on real footage and photographs (tests/fixtures/make_real_footage.py):
at least half of the real shots get a correct content noun in the caption, and none a false one; faces a few
metres away are found by the full-range detector; a shot examined where nothing could be named says so."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from detective import Detective

BUILDER = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "make_real_footage.py"


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("omni_make_real_footage", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def judged(real_footage: dict[str, Any]) -> list[dict[str, Any]]:
    """Per ground-truth shot of every corpus clip: the caption's storyline text there and its judged nouns."""
    builder = _builder()
    rows = []
    for name, clip in real_footage["clips"].items():
        result = Detective(tools=["shots", "scene"], offline=True).run(clip["path"])
        overview = next(s.body for s in result.caption.sections if s.title == "Overview")
        for shot in clip["shots"]:
            text = " ".join(
                seg.text
                for seg in result.caption.storyline
                if min(seg.span.end, shot["end"]) - max(seg.span.start, shot["start"]) >= 0.5 * seg.span.duration
            )
            correct, false = builder.judge(shot, builder.caption_nouns(text))
            rows.append(
                {"clip": name, "shot": shot, "text": text, "correct": correct, "false": false, "overview": overview}
            )
    return rows


def test_half_the_real_shots_get_a_correct_noun_and_none_a_false_one(judged: list[dict[str, Any]]) -> None:
    false = [(r["clip"], r["shot"]["name"], r["false"]) for r in judged if r["false"]]
    assert false == []
    named = [r for r in judged if r["correct"]]
    assert len(named) >= len(judged) / 2, [(r["clip"], r["shot"]["name"]) for r in judged if not r["correct"]]


def test_faces_beyond_the_short_range_are_found(judged: list[dict[str, Any]]) -> None:
    by_name = {r["shot"]["name"]: r for r in judged}
    for name in ("footballer", "two men, a basketball"):  # faces the short-range detector misses
        assert "people" in by_name[name]["correct"], by_name[name]["text"]
    for row in judged:
        if not row["shot"]["faces"]:  # no face sentence ("one person is visible, the face …", "two faces are …")
            assert not re.search(r"one person is visible|faces are visible", row["text"]), (row["shot"], row["text"])


def test_the_pedestrians_are_seen_by_the_people_detector(judged: list[dict[str, Any]]) -> None:
    (row,) = [r for r in judged if r["clip"] == "pedestrians"]
    assert "people" in row["correct"] and "the pedestrian detector finds" in row["text"], row["text"]


def test_shots_where_nothing_could_be_named_are_said_to_be_examined(judged: list[dict[str, Any]]) -> None:
    tree = next(r for r in judged if r["clip"] == "tree")
    assert tree["correct"] == [] and "nothing in the picture could be named with confidence" in tree["overview"]
    film = next(r for r in judged if r["clip"] == "film")
    assert "could be named" not in film["overview"]  # every film shot names something
