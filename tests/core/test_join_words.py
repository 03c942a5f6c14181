"""Transcribed words joined as text."""

from __future__ import annotations

from detective.models import join_words


def test_punctuation_and_digit_groups_lean_on_the_word_before() -> None:
    assert join_words(["It", "costs", "8", ",000", "dollars", "."]) == "It costs 8,000 dollars."
    assert join_words([" it", "'s", " well", "-known"]) == "it's well-known"
    assert join_words(["", "Hello", " "]) == "Hello"
