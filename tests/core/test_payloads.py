"""Observation payloads are typed: one model per kind, built from dicts, extra keys kept, JSON shape unchanged."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import pytest

from detective.models import (
    PAYLOADS,
    Evidence,
    Observation,
    ObservationKind,
    SoundEventPayload,
    SoundTagPayload,
    SpeechPayload,
    TimeSpan,
    Word,
)

REPO = Path(__file__).resolve().parents[2]


def _speech() -> Observation:
    return Observation(
        tool="asr",
        kind="speech",
        content="Hello there",
        span=TimeSpan(start=1.0, end=2.0),
        payload={
            "words": [
                {"word": "Hello", "start": 1.0, "end": 1.4, "probability": 0.9},
                {"word": "there", "start": 1.5, "end": 2.0, "probability": 0.8},
            ],
            "language": "en",
            "transcribed": True,
            "model": "Whisper tiny.en",
        },
    )


def test_every_kind_has_its_model() -> None:
    assert set(PAYLOADS) == set(typing.get_args(ObservationKind))
    for kind, model in PAYLOADS.items():
        obs = Observation(tool="t", kind=kind, content="x")
        assert type(obs.payload) is model and obs.payload.model_dump() == {}


def test_a_dict_becomes_the_kind_s_model_with_typed_words() -> None:
    obs = _speech()
    assert isinstance(obs.payload, SpeechPayload)
    assert obs.payload.words == [Word(word="Hello", start=1.0, end=1.4, probability=0.9), obs.payload.words[1]]
    assert obs.payload.words[1].start == 1.5 and obs.payload.speaker is None and obs.payload.transcribed


def test_json_keeps_the_reported_keys_only_and_round_trips() -> None:
    obs = _speech()
    data = json.loads(obs.model_dump_json())
    assert list(data["payload"]) == ["words", "language", "transcribed", "model"]
    assert data["payload"]["words"][0] == {"word": "Hello", "start": 1.0, "end": 1.4, "probability": 0.9}
    again = Observation.model_validate_json(obs.model_dump_json())
    assert again == obs and again.key == obs.key and isinstance(again.payload, SpeechPayload)
    board = Evidence(observations=[obs])
    assert Evidence.model_validate_json(board.model_dump_json()) == board


def test_third_party_keys_are_kept_and_read_as_attributes() -> None:
    obs = Observation(tool="clipping", kind="sound_event", content="clipping", payload={"label": "clipping", "n": 7})
    assert isinstance(obs.payload, SoundEventPayload)
    assert obs.payload.label == "clipping" and obs.payload.n == 7
    assert json.loads(obs.model_dump_json())["payload"] == {"label": "clipping", "n": 7}


def test_a_json_key_that_is_a_python_keyword_keeps_its_name() -> None:
    obs = Observation(tool="audio_tags", kind="sound_tag", content="a siren", payload={"class": "Siren"})
    assert isinstance(obs.payload, SoundTagPayload) and obs.payload.sound_class == "Siren"
    assert json.loads(obs.model_dump_json())["payload"] == {"class": "Siren"}


def test_wrong_types_are_refused_at_the_observer() -> None:
    with pytest.raises(ValueError, match="loudness_db"):
        Observation(tool="t", kind="sound_event", content="x", payload={"loudness_db": "loud"})


def test_a_copy_given_a_dict_payload_validates_it() -> None:
    obs = _speech()
    copy = obs.model_copy(update={"payload": {"words": [], "speaker": "S2"}})
    assert isinstance(copy.payload, SpeechPayload) and copy.payload.speaker == "S2" and copy.payload.words == []
    piece = obs.model_copy(update={"payload": obs.payload.model_copy(update={"speaker": "S1"})})
    assert piece.payload.speaker == "S1" and piece.payload.model_dump()["speaker"] == "S1"
    assert obs.payload.speaker is None


def test_dict_reads_still_answer_with_a_deprecation_warning() -> None:
    obs = _speech()
    with pytest.warns(DeprecationWarning, match="attributes"):
        assert obs.payload["model"] == "Whisper tiny.en"
    with pytest.warns(DeprecationWarning):
        assert obs.payload.get("speaker", "none") == "none"
    with pytest.warns(DeprecationWarning), pytest.raises(KeyError):
        obs.payload["why"]


def test_readers_use_the_fields_not_dict_lookups() -> None:
    """No module of the core, the bundled plugins or the observers reads a payload as a dict."""
    dict_read = re.compile(r"\.payload(\[|\.get\(|\.items\(\))|(\bin |\*\*)\w+\.payload\b(?!\.)")
    found = []
    for root in ("detective", "plugins", "observers"):
        for path in (REPO / root).rglob("*.py"):
            if "tests" in path.relative_to(REPO).parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if dict_read.search(line):
                    found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
