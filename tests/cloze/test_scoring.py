"""Scoring against hand-computed numbers on a synthetic set of 5 records × 30 blanks."""

from __future__ import annotations

from typing import Any

import pytest
from detective_cloze.scoring import format_table, outcome, score_records

from .conftest import make_record

LETTERS = "ABCD"
# One outcome code per blank: C correct, W wrong, N E chosen, U unanswered. Blank i has modality
# ("visual", "auditory", "audio-visual")[i % 3] (make_record's default cycle).
PATTERNS = {
    1: ("News", "Politics", "C" * 30),
    2: ("News", "Weather", "CWN" * 10),
    3: ("Sports", "Soccer", "UUU" + "N" * 27),
    4: ("Sports", "Tennis", "C" * 20 + "W" * 5 + "N" * 5),
    5: ("Music", "Live", "CWCWCWCWCW" + "NUNUNUNUNU" + "CCCCCWWWWW"),
}
UNANSWERED_FORMS = [None, "", "F", "?", "missing"]


def _judged(uuid: int) -> dict[str, Any]:
    category, subcategory, pattern = PATTERNS[uuid]
    golds = [LETTERS[i % 4] for i in range(30)]
    record = make_record(uuid, golds, category=category, subcategory=subcategory, as_strings=uuid == 5)
    predictions: dict[str, Any] = {}
    for i, code in enumerate(pattern):
        gold = golds[i]
        if code == "C":
            predictions[str(i + 1)] = gold if i % 2 else f"{gold}: opt"  # bare letter or "A: text"
        elif code == "W":
            predictions[str(i + 1)] = LETTERS[(i + 1) % 4]
        elif code == "N":
            predictions[str(i + 1)] = "E"
        else:
            form = UNANSWERED_FORMS[i % len(UNANSWERED_FORMS)]
            if form != "missing":
                predictions[str(i + 1)] = form
    record["judge"] = {
        "name": "cloze-llm",
        "model": "judge-m",
        "endpoint_host": "judge.test",
        "prompt_hash": "abc123",
        "failed": False,
    }
    record["predictions"] = predictions
    return record


def _expect(m: dict[str, Any], total: int, correct: int, wrong: int, not_given: int, unanswered: int) -> None:
    """Compare counts, and rates against fractions of the hand counts."""
    assert (m["total"], m["correct"], m["wrong"], m["not_given"], m["unanswered"]) == (
        total,
        correct,
        wrong,
        not_given,
        unanswered,
    )
    assert m["accuracy"] == pytest.approx(correct / total, abs=1e-6)
    assert m["not_given_rate"] == pytest.approx(not_given / total, abs=1e-6)
    assert m["hallucination_rate"] == pytest.approx(wrong / total, abs=1e-6)
    assert m["net"] == pytest.approx((correct - wrong) / total, abs=1e-6)


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    return score_records([_judged(u) for u in PATTERNS])


def test_overall(result: dict[str, Any]) -> None:
    # C 30+10+0+20+10 = 70; W 0+10+0+5+10 = 25; E 0+10+27+5+5 = 47; U 0+0+3+0+5 = 8; not given = 47+8 = 55.
    _expect(result["overall"], 150, 70, 25, 55, 8)
    assert result["overall"]["accuracy"] == pytest.approx(0.466667, abs=1e-6)
    assert result["overall"]["net"] == pytest.approx(0.3)
    assert result["overall"]["hallucination_rate"] == pytest.approx(0.166667, abs=1e-6)


def test_per_modality(result: dict[str, Any]) -> None:
    by = result["by_modality"]
    assert list(by) == ["visual", "auditory", "audio-visual"]
    _expect(by["visual"], 50, 31, 5, 14, 2)  # acc .62, net .52
    _expect(by["auditory"], 50, 19, 15, 16, 3)  # acc .38, net .08
    _expect(by["audio-visual"], 50, 20, 5, 25, 3)  # acc .40, net .30
    assert by["visual"]["net"] == pytest.approx(0.52)
    assert by["auditory"]["net"] == pytest.approx(0.08)


def test_per_category_and_subcategory(result: dict[str, Any]) -> None:
    cat = result["by_category"]
    _expect(cat["News"], 60, 40, 10, 10, 0)
    _expect(cat["Sports"], 60, 20, 5, 35, 3)
    _expect(cat["Music"], 30, 10, 10, 10, 5)
    assert cat["Music"]["net"] == 0.0
    sub = result["by_subcategory"]
    assert set(sub) == {"News / Politics", "News / Weather", "Sports / Soccer", "Sports / Tennis", "Music / Live"}
    _expect(sub["News / Politics"], 30, 30, 0, 0, 0)
    _expect(sub["Sports / Soccer"], 30, 0, 0, 30, 3)
    _expect(sub["Sports / Tennis"], 30, 20, 5, 5, 0)


def test_judges_and_counts_are_recorded(result: dict[str, Any]) -> None:
    assert result["judges"] == [
        {"name": "cloze-llm", "model": "judge-m", "endpoint_host": "judge.test", "prompt_hash": "abc123", "records": 5}
    ]
    assert result["counts"]["records"] == 5 and result["counts"]["scored_records"] == 5


def test_table_is_readable(result: dict[str, Any]) -> None:
    table = format_table(result, show_subcategory=True)
    assert "model=judge-m endpoint=judge.test prompt_hash=abc123" in table
    overall = next(line for line in table.splitlines() if line.startswith("OVERALL"))
    assert overall.split()[1:] == ["150", "70", "25", "55", "8", "46.67", "36.67", "16.67", "30.00"]
    assert "Sports / Soccer" in table
    assert "Sports / Soccer" not in format_table(result, show_subcategory=False)


def test_duplicates_failures_and_missing_gold() -> None:
    first = _judged(1)
    again = _judged(1)
    again["predictions"] = {str(i + 1): "E" for i in range(30)}  # the later record of the same uuid wins
    failed = make_record(9, ["A", "B"], category="Other")
    failed["judge"] = {
        "name": "cloze-llm",
        "model": "other-m",
        "endpoint_host": "h2",
        "prompt_hash": "p2",
        "failed": True,
        "error": "unparseable judge reply",
    }
    failed["predictions"] = {"1": "E", "2": "E"}
    ungraded = make_record(10, ["A", "B"])
    for blank in ungraded["cloze"]["blanks"]:
        for name in ("answer", "answer_index", "answer_key"):
            blank.pop(name)
    ungraded["judge"] = dict(failed["judge"], failed=False)
    ungraded["predictions"] = {"1": "A", "2": "B"}
    unjudged = make_record(11, ["A"])
    result = score_records([first, failed, again, ungraded, unjudged])
    counts = result["counts"]
    assert counts["duplicate_records"] == 1
    assert counts["judge_failures"] == 1
    assert counts["ungraded_blanks"] == 2
    assert counts["unjudged_records"] == 1
    _expect(result["overall"], 32, 0, 0, 32, 0)
    assert {j["model"] for j in result["judges"]} == {"judge-m", "other-m"}


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("A", "A", "correct"),
        ("a: x", "A", "correct"),
        ("E", "A", "not_given"),
        ("E", "E", "correct"),
        ("B", "A", "wrong"),
        (None, "A", "unanswered"),
        ("Q", "A", "unanswered"),
        (3, "A", "unanswered"),
    ],
)
def test_outcome(prediction: Any, gold: str, expected: str) -> None:
    assert outcome(prediction, gold) == expected
