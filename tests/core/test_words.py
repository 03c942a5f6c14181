"""The one word normaliser: the cross-check's terms, an observation's identity and the cloze judge's words."""

from __future__ import annotations

from detective.evidence.crosscheck import norm
from detective.evidence.words import comparable_words, fold_accents
from detective.models import plain_words


def test_marks_are_stripped_from_the_ends_of_words_or_split_everywhere() -> None:
    text = "“Dog-like,” isn't it?  8,000 …"
    assert comparable_words(text) == ["dog-like", "isn't", "it", "8,000"]
    assert norm(text) == "dog-like isn't it 8,000"
    assert comparable_words(text, marks="all") == ["dog", "like", "isn", "t", "it", "8", "000"]
    assert plain_words(text) == "dog like isn t it 8 000"


def test_folding_takes_unicode_forms_and_latin_accents_off() -> None:
    assert comparable_words("José MUÑOZ, Ｃａｆé!", fold=True) == ["jose", "munoz", "cafe"]
    assert comparable_words("José") == ["josé"]  # without fold the accents stay
    assert fold_accents("नमस्ते") == "नमस्ते"  # other scripts' marks are letters of their own
