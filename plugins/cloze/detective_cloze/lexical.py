"""The lexical matcher behind the offline proxy judge: does the caption state an option's words?

Text is normalised (Unicode, case and punctuation by the core's word normaliser; number words to digits:
"forty-two" and "42" agree, ordinals too: "first" and "1st") and an option matches when its words appear in the
caption as a contiguous run of whole words.
Accents on Latin letters are dropped ("café" and "cafe", "fährt" and "fahrt" agree), and the number words of the
other languages the offline speech recognition transcribes (Spanish, German, French, Italian) become digits too,
one word each ("nueve", "neun", "neuf", "nove" and "9"; a compound such as "dix-sept" stays two numbers). Words
that are also common English words ("once", "due", "elf", "cent", "null") and the articles "un", "uno", "una",
"ein", "eine" stay words.
"""

from __future__ import annotations

import re

from detective.evidence.words import comparable_words

_UNIT_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
)
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_ORDINAL_WORDS = "first second third fourth fifth sixth seventh eighth ninth tenth"
_SMALL = {word: value for value, word in enumerate(_UNIT_WORDS.split(" "))}
_TENS = {word: 10 * (i + 2) for i, word in enumerate(_TENS_WORDS.split(" "))}
_ORDINALS = {
    word: f"{i + 1}{('st', 'nd', 'rd')[i] if i < 3 else 'th'}" for i, word in enumerate(_ORDINAL_WORDS.split(" "))
}
#: Number words of Spanish, German, French and Italian, accents dropped (see the module docstring).
_OTHER_NUMBERS = (
    {
        word: value
        for words in (
            "cero - dos tres cuatro cinco seis siete ocho nueve diez - doce trece catorce quince dieciseis diecisiete "
            "dieciocho diecinueve veinte",
            "- eins zwei drei vier funf sechs sieben acht neun zehn - zwolf dreizehn vierzehn funfzehn sechzehn "
            "siebzehn achtzehn neunzehn zwanzig",
            "zero - deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize",
            "zero - - tre quattro cinque sei sette otto nove dieci undici dodici tredici quattordici quindici sedici "
            "diciassette diciotto diciannove venti",
        )
        for value, word in enumerate(words.split(" "))
        if word != "-"
    }
    | {
        word: value
        for words in (
            "treinta cuarenta cincuenta sesenta setenta ochenta noventa",
            "dreissig vierzig funfzig sechzig siebzig achtzig neunzig",
            "trente quarante cinquante soixante",
            "trenta quaranta cinquanta sessanta settanta ottanta novanta",
        )
        for value, word in zip(range(30, 100, 10), words.split(" "), strict=False)
    }
    | {
        "vingt": 20,
        "dreißig": 30,
        "hundert": 100,
        "cien": 100,
        "cento": 100,
        "tausend": 1000,
        "mil": 1000,
        "mille": 1000,
    }
)
_TOKEN = re.compile(r"\d+(?:st|nd|rd|th)(?![^\W\d_])|\d+(?:\.\d+)?|[^\W\d_]+")
_ARTICLES = {"a", "an", "the"}


def _read_number(tokens: list[str], start: int) -> tuple[int, int] | None:
    """The number spelt by the words from ``start`` on, and the index after it; ``None`` if there is none."""
    total, current, last, index = 0, 0, "", start
    while index < len(tokens):
        word = tokens[index]
        if word in _SMALL and (last in ("", "hundred", "thousand") or (last == "tens" and 1 <= _SMALL[word] <= 9)):
            current += _SMALL[word]
            last = "unit" if _SMALL[word] < 10 else "teen"
        elif word in _TENS and last in ("", "hundred", "thousand"):
            current += _TENS[word]
            last = "tens"
        elif word == "hundred" and last == "unit" and 0 < current < 10:
            current *= 100
            last = "hundred"
        elif word == "thousand" and last in ("unit", "teen", "tens", "hundred") and current > 0:
            total += current * 1000
            current, last = 0, "thousand"
        elif (
            word == "and"
            and last == "hundred"
            and index + 1 < len(tokens)
            and (tokens[index + 1] in _SMALL or tokens[index + 1] in _TENS)
        ):
            pass
        else:
            break
        index += 1
    if index == start:
        return None
    return total + current, index


def normalise(text: str) -> list[str]:
    """``text`` as a list of comparable words: the core's (:func:`detective.evidence.words.comparable_words`: lower
    case, Unicode forms and Latin accents folded, punctuation off their ends), split into letters and numbers,
    number words as digits."""
    text = " ".join(comparable_words(text, fold=True))
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    raw = _TOKEN.findall(text)
    tokens: list[str] = []
    index = 0
    while index < len(raw):
        word = raw[index]
        if word in _ORDINALS:
            tokens.append(_ORDINALS[word])
            index += 1
            continue
        if word in _OTHER_NUMBERS:
            tokens.append(str(_OTHER_NUMBERS[word]))
            index += 1
            continue
        number = _read_number(raw, index)
        if number is not None:
            tokens.append(str(number[0]))
            index = number[1]
            continue
        tokens.append(word)
        index += 1
    return tokens


def phrase(option: str) -> list[str]:
    """An option's words for matching: normalised, a leading article dropped ("a siren" matches "siren")."""
    words = normalise(option)
    while len(words) > 1 and words[0] in _ARTICLES:
        words = words[1:]
    return words


def contains(haystack: list[str], needle: list[str]) -> bool:
    """True when ``needle`` occurs in ``haystack`` as a contiguous run of whole words."""
    if not needle or len(needle) > len(haystack):
        return False
    first, size = needle[0], len(needle)
    return any(haystack[i] == first and haystack[i : i + size] == needle for i in range(len(haystack) - size + 1))
