"""Parsing messy judge replies."""

from __future__ import annotations

import pytest
from detective_cloze.replies import parse_reply

IDS = ["1", "2", "3"]
OPTIONS = {
    "1": {"A": "jingle", "B": "siren", "C": "stinger", "D": "drumroll"},
    "2": {"A": "0-1", "B": "1-0", "C": "1-1", "D": "2-0"},
    "3": {"A": "waves", "B": "nods", "C": "laughs", "D": "points"},
}


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"1": "A: jingle", "2": "E: not given", "3": "C: laughs"}', {"1": "A", "2": "E", "3": "C"}),
        ('```json\n{"1": "B", "2": "b", "3": "e"}\n```', {"1": "B", "2": "B", "3": "E"}),
        (
            'Sure! Here is my choice:\n{"1": "D: drumroll", "2": "A: 0-1", "3": "not given"}\nHope it helps.',
            {"1": "D", "2": "A", "3": "E"},
        ),
        ('{1: "A", 2: "(B)", 3: "D) points"}', {"1": "A", "2": "B", "3": "D"}),  # Python-style int keys
        ('{"blank 1": "stinger", "Blank_2": "1-1", "[3]": "E"}', {"1": "C", "2": "C", "3": "E"}),
        ('{"answers": {"1": "A", "2": "B", "3": "C"}}', {"1": "A", "2": "B", "3": "C"}),
        ('[{"blank": 1, "choice": "C"}, {"blank": 3, "choice": "A: waves"}]', {"1": "C", "2": None, "3": "A"}),
        ('["A: jingle", "E: not given", "B"]', {"1": "A", "2": "E", "3": "B"}),
        ('{"1": "A", "2": "B",}', {"1": "A", "2": "B", "3": None}),  # trailing comma, blank 3 missing
        ('{"1": "A", "2": "Z", "3": 7}', {"1": "A", "2": None, "3": None}),  # unreadable values: unanswered
        ("1: A\n2. E: not given\n3 - C", {"1": "A", "2": "E", "3": "C"}),  # no JSON at all
        ('{"01": "a", "2": {"choice": "B"}, "3": ["D"]}', {"1": "A", "2": "B", "3": "D"}),
    ],
)
def test_messy_replies(reply: str, expected: dict) -> None:
    parsed = parse_reply(reply, IDS, OPTIONS)
    assert parsed.ok
    assert parsed.predictions == expected


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I cannot decide.",
        '{"summary": "the caption is detailed", "score": 3}',
        '{"1": "maybe", "2": "unclear"}',
        '```json\n{"1": \n```',
    ],
)
def test_unparseable_replies(reply: str) -> None:
    parsed = parse_reply(reply, IDS, OPTIONS)
    assert not parsed.ok
    assert parsed.reason
    assert parsed.predictions == {"1": None, "2": None, "3": None}


def test_article_is_not_read_as_a_letter() -> None:
    parsed = parse_reply('{"1": "a siren", "2": "B"}', IDS, OPTIONS)
    assert parsed.predictions["1"] is None  # "a siren" is prose, not the letter A
    assert parsed.predictions["2"] == "B"


def test_best_candidate_wins_over_an_example_object() -> None:
    reply = 'Format: {"1": "X"}. My reply: {"1": "C", "2": "D", "3": "A"}'
    assert parse_reply(reply, IDS, OPTIONS).predictions == {"1": "C", "2": "D", "3": "A"}
