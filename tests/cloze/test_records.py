"""Reading Omni-Cloze records in every accepted shape, and the judge's view of them (no gold)."""

from __future__ import annotations

import json

import pytest
from detective_cloze.records import (
    ClozeFormatError,
    judge_view,
    letter_of,
    normalise_modality,
    parse_cloze,
)

from .conftest import make_record

UPSTREAM_PASSAGE = (
    "A sharp electronic [AUDITORY] (A: jingle | B: siren | C: stinger | D: drumroll | E: not given) plays. "
    'The left overlay shows "Semifinals - L.A. X Lead [VISUAL] (A: 0-1 | B: 1-0 | C: 1-1 | D: 2-0 | E: not given)" '
    "while the host [AUDIO-VISUAL] (A: waves (briefly) | B: nods | C: laughs | D: points | E: not given)."
)


def test_inline_options_with_gold_fields() -> None:
    record = {
        "uuid": 7,
        "cloze": {
            "passage": UPSTREAM_PASSAGE,
            "blanks": [
                {
                    "answer": "stinger",
                    "distractors": ["jingle", "siren", "drumroll"],
                    "answer_index": 2,
                    "answer_key": "C",
                    "required_modality": "auditory",
                },
                {"answer": "1-0", "answer_index": 1},
                {"answer": "waves (briefly)"},
            ],
        },
        "metadata": {"domain": "Sports", "sub_category": "Lacrosse"},
    }
    item = parse_cloze(record)
    assert item.blank_ids == ["1", "2", "3"]
    assert item.blanks[0].options == {"A": "jingle", "B": "siren", "C": "stinger", "D": "drumroll"}
    assert [b.gold for b in item.blanks] == ["C", "B", "A"]  # answer_key, answer_index, answer text
    # The first blank's modality comes from the gold field; the others from the passage's tags.
    assert [b.modality for b in item.blanks] == ["auditory", "visual", "audio-visual"]
    assert item.blanks[2].options["A"] == "waves (briefly)"
    assert (item.category, item.subcategory) == ("Sports", "Lacrosse")
    view = judge_view(item)
    assert "[1] (A: jingle | B: siren | C: stinger | D: drumroll | E: not given)" in view
    assert '"Semifinals - L.A. X Lead [2] (A: 0-1 | B: 1-0 | C: 1-1 | D: 2-0 | E: not given)"' in view
    assert "[AUDITORY]" not in view and "[VISUAL]" not in view and "AUDIO-VISUAL" not in view


def test_inline_only_record_is_judgeable_but_ungraded() -> None:
    item = parse_cloze({"cloze": {"passage": UPSTREAM_PASSAGE}})
    assert item.blank_ids == ["1", "2", "3"]
    assert all(b.gold is None for b in item.blanks)


def test_json_strings_list_options_and_index_ids() -> None:
    cloze = {
        "passage": "It is [BLANK 10] and then [BLANK 11].",
        "blanks": [
            {
                "index": 10,
                "options": ["A: red", "B: blue", "C: green", "D: black", "E: not given"],
                "answer_key": "B: blue",
                "required_modality": "Visual",
            },
            {
                "index": "11",
                "options": [
                    {"key": "A", "text": "one"},
                    {"key": "B", "text": "two"},
                    {"key": "C", "text": "three"},
                    {"key": "D", "text": "four"},
                ],
                "answer": "Three",
                "required_modality": "audio_visual",
            },
        ],
    }
    record = {"uuid": 3, "cloze": json.dumps(cloze), "metadata": json.dumps({"category": "Music"})}
    item = parse_cloze(record)
    assert item.blank_ids == ["10", "11"]
    assert [b.gold for b in item.blanks] == ["B", "C"]
    assert [b.modality for b in item.blanks] == ["visual", "audio-visual"]
    assert item.category == "Music" and item.subcategory is None
    assert judge_view(item) == (
        "It is [10] (A: red | B: blue | C: green | D: black | E: not given) and then "
        "[11] (A: one | B: two | C: three | D: four | E: not given)."
    )


def test_dict_options_plain_list_and_positions() -> None:
    record = {
        "cloze": {
            "passage": "First ___ then ___.",
            "blanks": [
                {"options": {"a": "x", "b": "y", "c": "z", "d": "w"}, "answer_index": 3},
                {"options": ["p", "q", "r", "s"], "answer": "q"},
            ],
        }
    }
    item = parse_cloze(record)
    assert item.blank_ids == ["1", "2"]
    assert item.blanks[0].options == {"A": "x", "B": "y", "C": "z", "D": "w"}
    assert [b.gold for b in item.blanks] == ["D", "B"]
    assert judge_view(item).startswith("First [1] (A: x | B: y | C: z | D: w | E: not given) then [2] (")


def test_options_rebuilt_from_answer_and_distractors() -> None:
    blank = {"answer": "siren", "distractors": ["jingle", "stinger", "drumroll"], "answer_index": 1}
    item = parse_cloze({"cloze": {"passage": "A [1] sounds.", "blanks": [blank]}})
    assert item.blanks[0].options == {"A": "jingle", "B": "siren", "C": "stinger", "D": "drumroll"}
    assert item.blanks[0].gold == "B"


def test_passage_without_markers_lists_the_blanks_after_it() -> None:
    record = make_record(1, ["A", "B"])
    record["cloze"]["passage"] = "A passage with no markers."
    view = judge_view(parse_cloze(record))
    assert view.startswith("A passage with no markers.\n\nBlanks:\n[1] (A: opt-1-A")
    assert "[2] (A: opt-2-A | B: opt-2-B | C: opt-2-C | D: opt-2-D | E: not given)" in view


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"uuid": 1}, "no 'cloze'"),
        ({"cloze": "{not json"}, "not JSON"),
        ({"cloze": {"passage": "x", "blanks": []}}, "no blanks"),
        ({"cloze": {"passage": "x", "blanks": [{"id": 1}]}}, "blank 1 has no options"),
        (
            {"cloze": {"passage": "x", "blanks": [{"id": 1, "options": ["a"]}, {"id": 1, "options": ["b"]}]}},
            "appears twice",
        ),
        ({"cloze": {"passage": UPSTREAM_PASSAGE, "blanks": [{"answer_key": "A"}]}}, "3 inline blanks"),
    ],
)
def test_bad_records_say_what_is_wrong(record: dict, message: str) -> None:
    with pytest.raises(ClozeFormatError, match=message):
        parse_cloze(record)


def test_small_helpers() -> None:
    assert [letter_of(v) for v in ("a", "B: siren", "(C)", "E: not given", "x", None)] == [
        "A",
        "B",
        "C",
        "E",
        None,
        None,
    ]
    assert [normalise_modality(v) for v in ("AUDITORY", "Audio-Visual", "vision", "smell")] == [
        "auditory",
        "audio-visual",
        "visual",
        None,
    ]


def test_judge_view_never_holds_gold() -> None:
    record = make_record(1, ["A", "B", "C", "D"] * 3)
    view = judge_view(parse_cloze(record))
    for name in ("answer", "distractors", "answer_index", "answer_key", "required_modality", "visual", "auditory"):
        assert name not in view.lower()
