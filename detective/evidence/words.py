"""Words for comparing texts: the one normaliser of case, punctuation and accents.

The cross-check compares terms with :func:`comparable_words` (punctuation stripped from the ends of each word, so
"isn't" and "8,000" stay whole); an observation's identity (``Observation.words``), the captioner's likeness of two
reports and its speaker attribution split on every mark (``marks="all"``: "dog-like" is "dog like"); the
Omni-Cloze lexical judge folds Unicode forms and Latin accents too (``fold=True``) before it reads number words as
digits. :func:`fold_accents` is the one accent folder.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import Literal

__all__ = ["PUNCTUATION", "comparable_words", "fold_accents"]

#: What is stripped from the ends of a word: ASCII punctuation and the typographic quotes and ellipsis.
PUNCTUATION = string.punctuation + "“”‘’…"
_MARK = re.compile(r"[^\w\s]")


def fold_accents(text: str) -> str:
    """``text`` without the accents of Latin letters ("muñoz" -> "munoz", "ü" -> "u"); other scripts are left
    whole (their marks are letters of their own, as in Devanagari)."""
    out: list[str] = []
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.combining(char) and out and out[-1].isascii():
            continue
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


def comparable_words(text: str, *, marks: Literal["edges", "all"] = "edges", fold: bool = False) -> list[str]:
    """``text``'s words, lower-cased, for comparing.

    :param marks: ``"edges"`` strips :data:`PUNCTUATION` from the ends of each whitespace-separated word (empty
        words dropped: ``"Jon, Smyth!"`` is ``["jon", "smyth"]``, ``"isn't"`` stays one word); ``"all"`` reads
        every character that is not a letter, digit, ``_`` or space as a space (``"Dog-like, isn't it?"`` is
        ``["dog", "like", "isn", "t", "it"]``).
    :param fold: also fold Unicode compatibility forms (NFKC, before lower-casing) and Latin accents
        (:func:`fold_accents`): ``"Café"`` is ``["cafe"]``.
    """
    text = fold_accents(unicodedata.normalize("NFKC", text).lower()) if fold else text.lower()
    if marks == "all":
        return _MARK.sub(" ", text).split()
    return [bare for bare in (w.strip(PUNCTUATION) for w in text.split()) if bare]
