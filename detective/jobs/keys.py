"""The one resume key rule of every job (``omni-detective run`` and ``cloze predict``).

A record's key is ``id:<id>`` when it has a non-empty ``id``, else ``uuid:<uuid>``, else ``sha1:<hex>`` of its
canonical JSON (sorted keys, no spaces). Values are JSON-encoded, so ``1`` and ``"1"`` are different keys.
An output record stores its key in ``provenance.record_key`` when it has a provenance; otherwise the key is
computed from the output record without the fields the job added.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

#: Fields whose value names a record, in order of preference.
KEY_FIELDS = ("id", "uuid")


def record_key(record: dict[str, Any]) -> str:
    """The resume key: ``id:<id>``, else ``uuid:<uuid>``, else ``sha1:<hex of the canonical JSON>``."""
    for name in KEY_FIELDS:
        value = record.get(name)
        if value is not None and value != "":
            return f"{name}:{json.dumps(value, sort_keys=True, ensure_ascii=False)}"
    blob = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha1:" + hashlib.sha1(blob.encode()).hexdigest()


def output_key(record: dict[str, Any], added: Iterable[str] = ()) -> str:
    """The resume key of an output record: ``provenance.record_key`` when present, else the key of the record
    without the ``added`` fields (those the job wrote beside the input fields)."""
    prov = record.get("provenance")
    if isinstance(prov, dict) and isinstance(prov.get("record_key"), str):
        return prov["record_key"]
    if all(record.get(name) in (None, "") for name in KEY_FIELDS):
        skip = set(added)
        record = {k: v for k, v in record.items() if k not in skip}
    return record_key(record)


def label(record: dict[str, Any], fallback: str) -> str:
    """A short name of a record for messages: ``id=…`` or ``uuid=…``, else ``fallback``."""
    for name in KEY_FIELDS:
        if record.get(name) not in (None, ""):
            return f"{name}={record[name]}"
    return fallback
