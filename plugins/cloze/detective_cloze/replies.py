"""Reading a judge's reply: JSON inside code fences or prose, keys as numbers or strings, values in any usual form.

:func:`parse_reply` maps each blank id to a letter A–E, or ``None`` when the reply does not give a readable choice
for that blank (counted as unanswered). A reply from which no blank can be read at all is unparseable.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from detective_cloze.records import NOT_GIVEN, normalise_id

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_LEADING_LETTER = re.compile(r"^\(?\s*([A-E])\s*(?:[:).\]\-–]|\s|$)")
_LOWER_LETTER = re.compile(r"^\(?\s*([a-e])\s*(?:[:).\]]|$)")
_LINE = re.compile(
    r"^\s*[\"']?\s*(?:blank\s*)?[#\[]?\s*(\d+)\s*\]?\s*[\"']?\s*[:.)=\-–]+\s*[\"']?\s*\(?([A-Ea-e])\s*(?:[:).,\"']|$)",
    re.IGNORECASE | re.MULTILINE,
)
_CONTAINER_KEYS = ("answers", "predictions", "choices", "blanks", "results", "selections", "result", "output")
_CHOICE_KEYS = ("letter", "choice", "option", "selection", "answer", "prediction", "value", "key")
_ID_KEYS = ("blank", "id", "index", "number", "blank_id", "blank_number")


@dataclass
class ParsedReply:
    """What a reply says: a letter (or ``None``) per blank id, and why it is unusable when it is."""

    predictions: dict[str, str | None] = field(default_factory=dict)
    ok: bool = False
    reason: str = ""

    @property
    def answered(self) -> int:
        """Blanks with a readable letter."""
        return sum(1 for v in self.predictions.values() if v is not None)


def _json_candidates(text: str) -> list[Any]:
    """Every JSON (or Python-literal) object or list found in ``text``, the whole text first."""
    sources = [text, *(m.group(1) for m in _FENCE.finditer(text))]
    found: list[Any] = []
    decoder = json.JSONDecoder()
    for source in sources:
        stripped = source.strip()
        for variant in (stripped, re.sub(r",\s*([}\]])", r"\1", stripped)):
            try:
                found.append(json.loads(variant))
                break
            except json.JSONDecodeError:
                pass
        for index, char in enumerate(source):
            if char not in "{[":
                continue
            try:
                value, _ = decoder.raw_decode(source, index)
            except json.JSONDecodeError:
                end = source.rfind("}" if char == "{" else "]")
                if end <= index:
                    continue
                snippet = re.sub(r",\s*([}\]])", r"\1", source[index : end + 1])
                try:
                    value = json.loads(snippet)
                except json.JSONDecodeError:
                    try:
                        value = ast.literal_eval(snippet)
                    except (ValueError, SyntaxError, MemoryError, RecursionError):
                        continue
            if isinstance(value, dict | list):
                found.append(value)
    return found


def _letter(value: Any, options: dict[str, str] | None) -> str | None:
    """The letter a reply value names: "A: jingle", "A", "a", "(B)", "E: not given", "jingle", {"choice": "A"}."""
    if isinstance(value, dict):
        for key in _CHOICE_KEYS:
            if key in value:
                return _letter(value[key], options)
        return None
    if isinstance(value, list):
        return _letter(value[0], options) if value else None
    if not isinstance(value, str):
        return None
    text = value.strip().strip("\"'").strip()
    if not text:
        return None
    folded = re.sub(r"[^a-z0-9]", "", text.lower())
    if options:
        for letter, option in options.items():
            if folded and folded == re.sub(r"[^a-z0-9]", "", option.lower()):
                return letter
    if folded in {"notgiven", "notmentioned", "none", "unknown", "notstated", "na"}:
        return NOT_GIVEN
    match = _LEADING_LETTER.match(text) or _LOWER_LETTER.match(text)
    return match.group(1).upper() if match else None


def _key(value: Any, ids: set[str]) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    key = normalise_id(value)
    if key in ids:
        return key
    numbers = re.findall(r"\d+", value)
    if len(numbers) == 1 and normalise_id(numbers[0]) in ids:
        return normalise_id(numbers[0])
    lowered = {i.lower(): i for i in ids}
    return lowered.get(value.strip().lower())


def _from_value(value: Any, ids: list[str], options: dict[str, dict[str, str]] | None) -> dict[str, str | None] | None:
    """Predictions read from one decoded JSON value, or ``None`` when it names no blank."""
    idset = set(ids)
    out: dict[str, str | None] = {}
    if isinstance(value, dict):
        keyed = {k: _key(k, idset) for k in value}
        if not any(keyed.values()):
            for name in _CONTAINER_KEYS:
                if name in value:
                    return _from_value(value[name], ids, options)
            if len(value) == 1:
                return _from_value(next(iter(value.values())), ids, options)
            return None
        for raw_key, blank_id in keyed.items():
            if blank_id is not None and blank_id not in out:
                out[blank_id] = _letter(value[raw_key], (options or {}).get(blank_id))
        return out
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            for entry in value:
                raw_id = next((entry[k] for k in _ID_KEYS if k in entry), None)
                blank_id = _key(raw_id, idset) if raw_id is not None else None
                if blank_id is not None and blank_id not in out:
                    out[blank_id] = _letter(entry, (options or {}).get(blank_id))
            return out or None
        if value and len(value) <= len(ids) and all(isinstance(v, str) for v in value):
            for blank_id, entry in zip(ids, value, strict=False):
                out[blank_id] = _letter(entry, (options or {}).get(blank_id))
            return out
    return None


def parse_reply(text: str | None, ids: list[str], options: dict[str, dict[str, str]] | None = None) -> ParsedReply:
    """Read the judge's reply for blanks ``ids``; ``options`` (per blank) lets a bare option text count.

    Missing blanks come back as ``None`` (unanswered). ``ok`` is False when no blank could be read at all.
    """
    if not text or not text.strip():
        return ParsedReply({i: None for i in ids}, False, "the reply is empty")
    best: dict[str, str | None] | None = None
    for candidate in _json_candidates(text):
        read = _from_value(candidate, ids, options)
        if read is None:
            continue
        if best is None or sum(v is not None for v in read.values()) > sum(v is not None for v in best.values()):
            best = read
    if best is None or not any(v is not None for v in best.values()):
        lines: dict[str, str | None] = {}
        idset = set(ids)
        for match in _LINE.finditer(text):
            blank_id = _key(match.group(1), idset)
            if blank_id is not None and blank_id not in lines:
                lines[blank_id] = match.group(2).upper()
        if lines:
            best = lines
    if best is None or not any(v is not None for v in best.values()):
        return ParsedReply({i: None for i in ids}, False, "no JSON object mapping blank numbers to letters A-E")
    return ParsedReply({i: best.get(i) for i in ids}, True, "")
