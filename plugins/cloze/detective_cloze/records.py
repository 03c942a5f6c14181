"""Omni-Cloze records: read a record's passage, blanks, gold letters and metadata, whatever shape it comes in.

Accepted shapes (the official field names may differ slightly from the public port, so both are read):

- ``cloze`` and ``metadata`` as dicts or as JSON strings;
- blank options as a list (``["jingle", …]``, ``["A: jingle", …]`` or ``[{"key": "A", "text": "jingle"}, …]``),
  as a dict (``{"A": "jingle", …}``), as the gold ``answer`` plus ``distractors`` (the answer placed at
  ``answer_index``), or inline in the passage: ``[AUDITORY] (A: jingle | B: siren | C: stinger | D: drumroll |
  E: not given)``;
- blank ids from the blank's ``id`` / ``index`` field, else its 1-based position;
- the gold letter from ``answer_key``, else ``answer_index`` (0-based), else by matching ``answer`` to the options.

:func:`judge_view` renders what a judge may see: the passage with every blank's options, and nothing of the gold.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

LETTERS = ("A", "B", "C", "D")
NOT_GIVEN = "E"
NOT_GIVEN_TEXT = "not given"
MODALITIES = ("visual", "auditory", "audio-visual")
#: The record field holding the caption to judge (the judges' and ``cloze predict --caption-field`` default).
DEFAULT_CAPTION_FIELD = "predicted_caption"
GOLD_FIELDS = ("answer", "distractors", "answer_index", "answer_key", "required_modality")

_CATEGORY_KEYS = ("category", "domain", "main_category", "main_domain", "class")
_SUBCATEGORY_KEYS = ("subcategory", "sub_category", "subdomain", "sub_domain", "sub_class")
_ID_KEYS = ("id", "index", "blank_id", "number")
_OPTION_KEYS = ("options", "choices", "candidates")

# An inline blank: an optional [MODALITY] tag, then "(A: … | B: … | … | E: not given)". Option texts may hold one
# level of parentheses, e.g. "(A: a bell (short) | B: …)".
_INLINE = re.compile(
    r"(?:\[(?P<tag>[A-Za-z][A-Za-z \-_/]{0,30})\]\s*)?"
    r"\(\s*(?P<body>A\s*[:.]\s*(?:[^()]|\([^()]*\))*?\|\s*B\s*[:.](?:[^()]|\([^()]*\))*?)\)"
)
_INLINE_SPLIT = re.compile(r"\s*\|\s*(?=[A-E]\s*[:.])")
# Placeholders of blanks whose options come from the blank list. Numbered ones name the blank they stand for.
_NUMBERED = re.compile(
    r"\[\s*(?:blank)?\s*[_#-]?\s*(?P<a>\d+)\s*\]"
    r"|\{\{?\s*(?:blank)?\s*[_#-]?\s*(?P<b>\d+)\s*\}?\}"
    r"|<\s*(?:blank)?\s*[_#-]?\s*(?P<c>\d+)\s*>"
    r"|_{2,}\s*\(?\s*(?P<d>\d+)\s*\)?\s*_*",
    re.IGNORECASE,
)
_UNNUMBERED = re.compile(r"\[\s*(?:visual|auditory|audio|audio[\s_-]?visual|blank|mask)\s*\]|_{3,}", re.IGNORECASE)
_LETTERED = re.compile(r"^\s*\(?\s*([A-Ea-e])\s*[:.)\]]\s*(.*)$", re.DOTALL)


class ClozeFormatError(ValueError):
    """A record whose cloze part cannot be read. The message says which field is wrong."""


@dataclass(frozen=True)
class Blank:
    """One blank: its id, its options A–D (E is always "not given"), the gold letter and required modality."""

    id: str
    options: dict[str, str]
    gold: str | None = None
    modality: str | None = None

    def rendered(self) -> str:
        """The blank as a judge sees it: ``[id] (A: … | B: … | C: … | D: … | E: not given)``."""
        parts = [f"{letter}: {self.options[letter]}" for letter in LETTERS if letter in self.options]
        parts.append(f"{NOT_GIVEN}: {NOT_GIVEN_TEXT}")
        return f"[{self.id}] (" + " | ".join(parts) + ")"


@dataclass
class ClozeItem:
    """A record's cloze part, read: the passage as given, the blanks in order, and where they sit in the passage."""

    passage: str
    blanks: list[Blank]
    category: str | None = None
    subcategory: str | None = None
    # (start, end) of each blank's marker in ``passage``, in blank order; empty when the passage has none.
    spans: list[tuple[int, int]] = field(default_factory=list)

    @property
    def blank_ids(self) -> list[str]:
        """The blank ids in order."""
        return [b.id for b in self.blanks]


def load_json_field(value: Any, name: str) -> Any:
    """``value`` itself, or decoded when it is a JSON string (``cloze`` and ``metadata`` come both ways)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ClozeFormatError(f"field {name!r} is a string but not JSON: {exc}") from exc
        except RecursionError:
            raise ClozeFormatError(f"field {name!r} nests deeper than a record may") from None
    return value


def normalise_modality(value: Any) -> str | None:
    """``visual``, ``auditory`` or ``audio-visual`` from the many spellings in use; ``None`` when unknown."""
    if not isinstance(value, str):
        return None
    key = re.sub(r"[^a-z]", "", value.lower())
    if key in {"audiovisual", "av", "both", "omni", "multimodal"}:
        return "audio-visual"
    if key in {"visual", "vision", "video", "image", "v"}:
        return "visual"
    if key in {"auditory", "audio", "aural", "sound", "speech", "a"}:
        return "auditory"
    return None


def normalise_id(value: Any) -> str:
    """A blank id as a string; numbers lose leading zeros so ``"01"``, ``1`` and ``"1"`` agree."""
    text = str(value).strip()
    return str(int(text)) if text.isdigit() else text


def letter_of(value: Any) -> str | None:
    """The letter A–E a gold key names (``"A"``, ``"a"``, ``"A: jingle"``, ``"(A)"``), or ``None``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) == 1 and text.upper() in "ABCDE":
        return text.upper()
    match = _LETTERED.match(text)
    return match.group(1).upper() if match else None


def _first(mapping: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if mapping.get(key) not in (None, ""):
            return mapping[key]
    return None


def _is_not_given(text: str) -> bool:
    return re.sub(r"[^a-z]", "", text.lower()) in {"notgiven", "notmentioned", "none", "unknown"}


def _options_from_list(items: list[Any]) -> dict[str, str]:
    options: dict[str, str] = {}
    for position, item in enumerate(items):
        if isinstance(item, dict):
            letter = letter_of(_first(item, ("key", "label", "letter", "option_key")) or "")
            text = _first(item, ("text", "value", "option", "content", "label_text"))
            if text is None:
                raise ClozeFormatError(f"option {item!r} has no text field")
            text = str(text)
        else:
            text = str(item)
            match = _LETTERED.match(text)
            letter = match.group(1).upper() if match else None
            if match:
                text = match.group(2)
        if letter is None:
            letter = "ABCDE"[position] if position < 5 else None
        if letter is None:
            raise ClozeFormatError(f"blank has more than five options: {items!r}")
        if letter == NOT_GIVEN or _is_not_given(text):
            continue
        options[letter] = text.strip()
    return options


def _options_of(blank: dict[str, Any], construct: bool = True) -> dict[str, str] | None:
    raw = _first(blank, _OPTION_KEYS)
    if isinstance(raw, str):
        raw = load_json_field(raw, "options")
    if isinstance(raw, dict):
        options = {}
        for key, text in raw.items():
            letter = letter_of(str(key))
            if letter is None:
                raise ClozeFormatError(f"option key {key!r} is not a letter A–E")
            if letter != NOT_GIVEN:
                options[letter] = str(text).strip()
        return options
    if isinstance(raw, list):
        return _options_from_list(raw)
    direct = {k.upper(): str(v).strip() for k, v in blank.items() if k.upper() in LETTERS and len(k) == 1}
    if direct:
        return direct
    answer, distractors = blank.get("answer"), blank.get("distractors")
    if construct and answer is not None and isinstance(distractors, list) and distractors:
        texts = [str(d) for d in distractors]
        index = blank.get("answer_index")
        if isinstance(index, int) and 0 <= index <= len(texts):
            texts.insert(index, str(answer))
        else:
            # No position given: sort, so the gold does not always land on the same letter.
            texts = sorted([*texts, str(answer)], key=str.lower)
        if len(texts) > len(LETTERS):
            raise ClozeFormatError(f"blank has {len(texts)} options; at most four (A–D) are allowed")
        return dict(zip(LETTERS, texts, strict=False))
    return None


def _gold_of(blank: dict[str, Any], options: dict[str, str]) -> str | None:
    letter = letter_of(blank.get("answer_key"))
    if letter is not None:
        return letter
    index = blank.get("answer_index")
    if isinstance(index, str) and index.strip().isdigit():
        index = int(index)
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 5:
        return "ABCDE"[index]
    answer = blank.get("answer")
    if answer is not None:
        wanted = _fold(str(answer))
        for letter, text in options.items():
            if _fold(text) == wanted:
                return letter
        if _is_not_given(str(answer)):
            return NOT_GIVEN
    return None


def _fold(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text.lower())).strip()


def _inline_blanks(passage: str) -> list[tuple[tuple[int, int], dict[str, str], str | None]]:
    found = []
    for match in _INLINE.finditer(passage):
        options: dict[str, str] = {}
        for part in _INLINE_SPLIT.split(match.group("body")):
            lettered = _LETTERED.match(part)
            if lettered is None:
                continue
            letter, text = lettered.group(1).upper(), lettered.group(2).strip()
            if letter != NOT_GIVEN:
                options[letter] = text
        found.append(((match.start(), match.end()), options, normalise_modality(match.group("tag"))))
    return found


def _placeholder_spans(passage: str, ids: list[str]) -> list[tuple[int, int]]:
    """Where each blank (in ``ids`` order) sits in ``passage``, or ``[]`` when the markers do not fit."""
    numbered: dict[str, tuple[int, int]] = {}
    for match in _NUMBERED.finditer(passage):
        number = next(g for g in match.group("a", "b", "c", "d") if g is not None)
        key = normalise_id(number)
        if key in ids and key not in numbered:
            numbered[key] = (match.start(), match.end())
    if len(numbered) == len(ids):
        return [numbered[i] for i in ids]
    unnumbered = [(m.start(), m.end()) for m in _UNNUMBERED.finditer(passage)]
    if len(unnumbered) == len(ids):
        return unnumbered
    return []


def parse_cloze(record: dict[str, Any]) -> ClozeItem:
    """Read a record's cloze part. Raises :class:`ClozeFormatError` naming the field when it cannot."""
    cloze = load_json_field(record.get("cloze"), "cloze")
    if cloze is None:
        # Some ports put passage and blanks at the top level.
        cloze = {k: record[k] for k in ("passage", "blanks") if k in record} or None
    if not isinstance(cloze, dict):
        raise ClozeFormatError("record has no 'cloze' object (a dict or JSON string with 'passage' and 'blanks')")
    passage = cloze.get("passage") or cloze.get("text") or ""
    if not isinstance(passage, str):
        raise ClozeFormatError("cloze 'passage' is not a string")
    raw_blanks = load_json_field(cloze.get("blanks"), "blanks")
    if raw_blanks is None:
        raw_blanks = []
    if isinstance(raw_blanks, dict):
        raw_blanks = [{"id": key, **(value if isinstance(value, dict) else {})} for key, value in raw_blanks.items()]
    if not isinstance(raw_blanks, list):
        raise ClozeFormatError("cloze 'blanks' is not a list")
    inline = _inline_blanks(passage)
    if raw_blanks and inline and len(inline) != len(raw_blanks):
        raise ClozeFormatError(f"the passage has {len(inline)} inline blanks but 'blanks' lists {len(raw_blanks)}")
    count = max(len(raw_blanks), len(inline))
    if count == 0:
        raise ClozeFormatError("cloze has no blanks (neither a 'blanks' list nor inline options in the passage)")
    blanks: list[Blank] = []
    seen: set[str] = set()
    for position in range(count):
        raw = raw_blanks[position] if raw_blanks else {}
        if not isinstance(raw, dict):
            raise ClozeFormatError(f"blank {position + 1} is not an object")
        ident = _first(raw, _ID_KEYS)
        blank_id = normalise_id(ident) if ident is not None else str(position + 1)
        if blank_id in seen:
            raise ClozeFormatError(f"blank id {blank_id!r} appears twice")
        seen.add(blank_id)
        # Options the passage shows inline win over ones rebuilt from the gold answer and distractors.
        options = _options_of(raw, construct=not inline)
        tag_modality = None
        if inline:
            inline_options, tag_modality = inline[position][1], inline[position][2]
            options = options or inline_options
        if not options:
            raise ClozeFormatError(f"blank {blank_id} has no options")
        bad = sorted(set(options) - set(LETTERS))
        if bad:
            raise ClozeFormatError(f"blank {blank_id} has options outside A–D: {bad}")
        modality = normalise_modality(raw.get("required_modality") or raw.get("modality")) or tag_modality
        blanks.append(Blank(blank_id, options, _gold_of(raw, options), modality))
    spans = [s for s, _, _ in inline] if inline else _placeholder_spans(passage, [b.id for b in blanks])
    category, subcategory = category_of(record)
    return ClozeItem(passage, blanks, category, subcategory, spans)


def judge_view(item: ClozeItem) -> str:
    """The passage with every blank's options, as the judge sees it. No gold field and no modality tag appear."""
    if not item.spans:
        listed = "\n".join(b.rendered() for b in item.blanks)
        return f"{item.passage.rstrip()}\n\nBlanks:\n{listed}" if item.passage.strip() else f"Blanks:\n{listed}"
    pieces: list[str] = []
    cursor = 0
    for blank, (start, end) in zip(item.blanks, item.spans, strict=True):
        pieces.append(item.passage[cursor:start])
        pieces.append(blank.rendered())
        cursor = end
    pieces.append(item.passage[cursor:])
    return "".join(pieces)


def category_of(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(category, subcategory)`` from ``metadata`` (dict or JSON string) or the record itself."""
    try:
        metadata = load_json_field(record.get("metadata"), "metadata")
    except ClozeFormatError:
        metadata = None
    if not isinstance(metadata, dict):
        metadata = {}
    category = _first(metadata, _CATEGORY_KEYS) or _first(record, _CATEGORY_KEYS)
    subcategory = _first(metadata, _SUBCATEGORY_KEYS) or _first(record, _SUBCATEGORY_KEYS)
    return (
        str(category) if category is not None else None,
        str(subcategory) if subcategory is not None else None,
    )
