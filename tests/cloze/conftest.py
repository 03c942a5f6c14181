"""Fixtures for the Omni-Cloze plugin tests: record builders and online settings for a respx-mocked judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detective.llm.settings import Settings

BASE_URL = "https://judge.test/v1"
URL = f"{BASE_URL}/chat/completions"
API_KEY = "sk-judge-SECRET-0123456789"
LETTERS = "ABCD"


def make_record(
    uuid: int,
    golds: list[str],
    modalities: list[str] | None = None,
    *,
    caption: str | None = "A caption.",
    category: str = "News",
    subcategory: str = "Politics",
    as_strings: bool = False,
) -> dict[str, Any]:
    """A record with ``len(golds)`` blanks, ``[n]`` placeholders, options ``opt-n-A`` … and gold ``answer_key``."""
    modalities = modalities or ["visual", "auditory", "audio-visual"]
    blanks = []
    for i, gold in enumerate(golds):
        options = [f"opt-{i + 1}-{letter}" for letter in LETTERS]
        blanks.append(
            {
                "id": i + 1,
                "options": options,
                "answer": options[LETTERS.index(gold)],
                "distractors": [o for o in options if o != options[LETTERS.index(gold)]],
                "answer_index": LETTERS.index(gold),
                "answer_key": gold,
                "required_modality": modalities[i % len(modalities)],
            }
        )
    passage = " ".join(f"Detail number {i + 1} is [{i + 1}]." for i in range(len(golds)))
    cloze: Any = {"passage": passage, "blanks": blanks}
    metadata: Any = {"category": category, "subcategory": subcategory}
    record: dict[str, Any] = {"uuid": uuid, "video_path": f"./videos/{uuid:07d}.mp4"}
    record["cloze"] = json.dumps(cloze) if as_strings else cloze
    record["metadata"] = json.dumps(metadata) if as_strings else metadata
    if caption is not None:
        record["predicted_caption"] = caption
    return record


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` as JSONL and return ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def settings() -> Settings:
    """Online judge settings for the mocked endpoint, retries without sleeping."""
    return Settings(api_key=API_KEY, base_url=BASE_URL, backoff=0.0, max_attempts=3, timeout=5.0)


@pytest.fixture
def judge_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment for CLI runs against the mocked judge (no sleeping between retries)."""
    for name in (
        "OMNI_DETECTIVE_JUDGE_MODEL",
        "OMNI_DETECTIVE_JUDGE_BASE_URL",
        "OMNI_DETECTIVE_JUDGE_API_KEY",
        "OMNI_DETECTIVE_OFFLINE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", BASE_URL)
    monkeypatch.setenv("OMNI_DETECTIVE_BACKOFF", "0")
    monkeypatch.setenv("OMNI_DETECTIVE_MAX_ATTEMPTS", "3")
