"""The offline lexical proxy judge: normalisation, whole-word matching, E on none or several."""

from __future__ import annotations

from typing import Any

import pytest
from detective_cloze.judges import LEXICAL_LABEL, LexicalJudge
from detective_cloze.lexical import contains, normalise, phrase


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Episode Forty-Two!", ["episode", "42"]),
        ("a 440Hz tone", ["a", "440", "hz", "tone"]),
        ("one hundred and five", ["105"]),
        ("two thousand twenty-four", ["2024"]),
        ("the first speaker, 1st place", ["the", "1st", "speaker", "1st", "place"]),
        ("1,000 people; 2.5 s", ["1000", "people", "2.5", "s"]),
        ("one two three", ["1", "2", "3"]),
        ("JOHN SMITH’s", ["john", "smith", "s"]),
    ],
)
def test_normalise(text: str, words: list[str]) -> None:
    assert normalise(text) == words


def test_whole_word_matching() -> None:
    caption = normalise("A siren wails. The jingles stop.")
    assert contains(caption, phrase("a siren"))
    assert not contains(caption, phrase("jingle"))  # "jingles" is another word
    assert not contains(caption, phrase("ire"))
    assert contains(normalise("Score 1-0 on screen"), phrase("1 - 0"))
    assert not contains(normalise("Score 1-0 on screen"), phrase("0-1"))


def _record(passage_options: list[list[str]], golds: list[str], caption: Any) -> dict[str, Any]:
    pairs = enumerate(zip(passage_options, golds, strict=True))
    blanks = [{"id": i + 1, "options": opts, "answer_key": gold} for i, (opts, gold) in pairs]
    record: dict[str, Any] = {"uuid": 1, "cloze": {"passage": "x", "blanks": blanks}}
    if caption is not None:
        record["predicted_caption"] = caption
    return record


async def test_lexical_judge_picks_the_one_stated_option() -> None:
    options = [
        ["jingle", "siren", "stinger", "drumroll"],  # one stated: B
        ["two", "three", "four", "five"],  # "2" stated as a digit: A
        ["red", "blue", "green", "black"],  # none stated: E
        ["white", "yellow", "orange", "pink"],  # two stated: E
        ["Episode 41", "Episode 42", "Episode 24", "Episode 4"],  # "Episode Forty-Two": B
    ]
    caption = "A loud siren. 2 people talk. White and yellow text reads EPISODE FORTY-TWO."
    out = await LexicalJudge().judge(_record(options, ["B", "A", "C", "A", "B"], caption))
    assert out["predictions"] == {"1": "B", "2": "A", "3": "E", "4": "E", "5": "B"}
    judge = out["judge"]
    assert judge["proxy"] == LEXICAL_LABEL and "proxy" in judge["proxy"]
    assert judge["model"] == "cloze-lexical/1" and judge["endpoint_host"] == "local"
    assert judge["failed"] is False and judge["prompt_hash"]


@pytest.mark.parametrize("caption", [None, "", "   "])
async def test_missing_caption_is_all_not_given_and_flagged(caption: Any) -> None:
    options = [["a1", "b1", "c1", "d1"], ["a2", "b2", "c2", "d2"]]
    out = await LexicalJudge().judge(_record(options, ["A", "B"], caption))
    assert out["predictions"] == {"1": "E", "2": "E"}
    assert out["judge"]["caption_missing"] is True


async def test_caption_field_is_configurable() -> None:
    record = _record([["siren", "horn", "bell", "drum"]], ["A"], "a horn")
    record["my_caption"] = "a bell rings"
    assert (await LexicalJudge().judge(record))["predictions"] == {"1": "B"}
    assert (await LexicalJudge(caption_field="my_caption").judge(record))["predictions"] == {"1": "C"}


@pytest.mark.parametrize(
    ("caption", "option"),
    [
        ("El tren sale a las nueve de la mañana.", "las 9"),
        ("Der Zug fährt um neun Uhr ab.", "fahrt um 9"),
        ("Le musée ouvre à dix heures.", "musee ouvre a 10 heures"),
        ("Il treno parte alle otto.", "alle 8"),
        ("Wir warten dreißig Minuten.", "30 minuten"),
    ],
)
def test_accents_and_number_words_of_other_languages(caption: str, option: str) -> None:
    assert contains(normalise(caption), phrase(option))


def test_english_words_that_spell_foreign_numbers_stay_words() -> None:
    assert normalise("It is due once a week, elf") == ["it", "is", "due", "once", "a", "week", "elf"]
    assert normalise("Добрый день, café") == ["добрый", "день", "cafe"]
