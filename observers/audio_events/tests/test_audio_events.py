"""The ``audio_events`` observer on fixture clips with known sounds, and on synthetic signals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from detective_audio_events import AudioEventsTool, analyse

from detective.media import probe
from detective.models import Observation, Query, TimeSpan
from detective.plugins import get_registry
from detective.testing import ToolTests
from detective.tools import ToolError

SR = 16000
LABELS = {"silence", "speech-like", "tone", "broadband noise", "music-like", "sound"}


def _observe(path: str, **arguments: Any) -> list[Observation]:
    return AudioEventsTool().observe(probe(path), Query(tool="audio_events", arguments=arguments))


def _events(observations: list[Observation], label: str) -> list[Observation]:
    return [o for o in observations if o.kind == "sound_event" and o.payload.label == label]


@pytest.mark.parametrize("name", ["scene", "speech"])
def test_tone_and_noise_bursts_match_ground_truth(fixture_media: dict[str, Any], name: str) -> None:
    clip = fixture_media["clips"][name]
    found = _observe(clip["path"])
    tones = _events(found, "tone")
    assert len(tones) == len(clip["tones"])
    for obs, truth in zip(tones, clip["tones"], strict=True):
        assert obs.content == "tone"
        assert obs.span.start == pytest.approx(truth["start"], abs=0.3)
        assert obs.span.end == pytest.approx(truth["end"], abs=0.3)
        assert obs.payload.frequency_hz == pytest.approx(truth["freq"], rel=0.02)
    noises = _events(found, "broadband noise")
    assert len(noises) == len(clip["noise"])
    for obs, truth in zip(noises, clip["noise"], strict=True):
        assert obs.span.start == pytest.approx(truth["start"], abs=0.3)
        assert obs.span.end == pytest.approx(truth["end"], abs=0.3)


@pytest.mark.parametrize("name", ["scene", "speech"])
def test_speech_like_spans_cover_the_sentences(fixture_media: dict[str, Any], name: str) -> None:
    clip = fixture_media["clips"][name]
    speech = _events(_observe(clip["path"]), "speech-like")
    for sentence in clip["speech"]:
        truth = TimeSpan(start=sentence["start"], end=sentence["end"])
        covered = sum(o.span.overlap(truth) for o in speech)
        assert covered >= 0.8 * truth.duration, sentence["text"]
    # and nothing else is called speech
    for obs in speech:
        assert any(obs.span.overlaps(TimeSpan(start=s["start"], end=s["end"])) for s in clip["speech"])
        assert obs.payload.pace in {"fast", "moderate", "slow"}
        assert 60.0 <= obs.payload.pitch_hz <= 300.0


def test_observation_conventions_and_metadata(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    found = _observe(clip["path"])
    events = [o for o in found if o.kind == "sound_event"]
    assert {o.payload.label for o in events} <= LABELS
    for obs in events:
        assert obs.content == obs.payload.label
        assert obs.payload.loudness_db <= obs.payload.peak_db + 1e-6
        assert 0.0 <= obs.confidence <= 1.0
    # silence between the events, where the fixture is silent
    silences = _events(found, "silence")
    gap = TimeSpan(start=clip["tones"][0]["end"] + 0.2, end=clip["speech"][1]["start"] - 0.2)
    assert any(o.span.overlap(gap) >= 0.9 * gap.duration for o in silences)
    (meta,) = [o for o in found if o.kind == "metadata"]
    assert meta.span == TimeSpan(start=0.0, end=clip["duration"])
    spoken = sum(s["end"] - s["start"] for s in clip["speech"]) / clip["duration"]
    assert meta.payload.speech_ratio == pytest.approx(spoken, abs=0.08)
    assert 0.3 < meta.payload.silence_ratio < 0.7
    assert -30.0 < meta.payload.loudness_db < -10.0
    assert meta.content.startswith(f"loudness {meta.payload.loudness_db:.1f} dBFS, speech-like")


def test_span_limits_the_analysis(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    tone = clip["tones"][0]
    found = _observe(clip["path"], start=3.5, end=6.0, include_silence=False)
    labels = [o.payload.label for o in found if o.kind == "sound_event"]
    assert labels == ["tone"]
    assert found[0].span.start == pytest.approx(tone["start"], abs=0.3)
    assert found[-1].kind == "metadata" and found[-1].span == TimeSpan(start=3.5, end=6.0)
    query_span = AudioEventsTool().observe(
        probe(clip["path"]), Query(tool="audio_events", span=TimeSpan(start=9.5, end=11.8))
    )
    assert [o.payload.label for o in query_span if o.kind == "sound_event" and o.content != "silence"] == [
        "broadband noise"
    ]


def test_clip_without_audio_does_not_apply_and_fails_clearly(fixture_media: dict[str, Any]) -> None:
    media = probe(fixture_media["clips"]["silent"]["path"])
    tool = AudioEventsTool()
    assert not tool.applies_to(media)
    with pytest.raises(ToolError, match="has no audio stream"):
        tool.observe(media, Query(tool="audio_events"))


def _melody() -> np.ndarray:
    notes = []
    for freq in (262, 294, 330, 349, 392, 349, 330, 294):
        t = np.arange(int(0.4 * SR)) / SR
        notes.append(sum(0.15 / k * np.sin(2 * np.pi * freq * k * t) for k in range(1, 5)))
    return np.concatenate(notes)


def test_synthetic_signals_get_honest_labels() -> None:
    silence = np.zeros(3 * SR, dtype=np.float32)
    events, summary = analyse([(0.0, silence)])
    assert [e.label for e in events] == ["silence"]
    assert summary["silence_ratio"] == 1.0 and summary["speech_ratio"] == 0.0

    melody = np.zeros(5 * SR, dtype=np.float32)
    melody[SR : SR + int(3.2 * SR)] = _melody()
    events, _ = analyse([(0.0, melody)])
    assert [e.label for e in events if e.label != "silence"] == ["music-like"]

    # a held chord, loud from the first sample to the last: harmonic but no notes, so only "sound"
    t = np.arange(4 * SR) / SR
    chord = sum(
        0.1 / k * np.sin(2 * np.pi * 220 * k * t) + 0.08 / k * np.sin(2 * np.pi * 277.2 * k * t) for k in (1, 2, 3)
    )
    events, summary = analyse([(0.0, chord.astype(np.float32))])
    assert [e.label for e in events] == ["sound"]
    assert summary["silence_ratio"] < 0.05

    rng = np.random.default_rng(0)
    noise = (rng.normal(0, 0.1, 4 * SR) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    events, summary = analyse([(0.0, noise)])
    assert [e.label for e in events] == ["broadband noise"]
    assert summary["speech_ratio"] == 0.0


def test_streamed_blocks_give_the_same_events_as_one_block(fixture_media: dict[str, Any]) -> None:
    from detective.media import iter_audio, load_audio

    path = fixture_media["clips"]["speech"]["path"]
    whole, _ = analyse([(0.0, load_audio(path))])
    streamed, _ = analyse(iter_audio(path, block_seconds=1.3))
    assert [(e.label, e.start, e.end) for e in whole] == [(e.label, e.start, e.end) for e in streamed]


def test_registered_through_entry_point() -> None:
    tool = get_registry().tool("audio_events")
    assert isinstance(tool, AudioEventsTool)
    assert tool.spec().modalities == ["audio"]


class TestAudioEventsToolStandard(ToolTests):
    """The standard tests every tool passes (``detective.testing.ToolTests``), on the demo clip."""

    tool_class = AudioEventsTool
    registered_name = "audio_events"


def test_real_sounds_in_long_silences_are_reported_and_never_silence(real_corpus: dict[str, Any]) -> None:
    """Desktop sounds apart by seconds of digital silence (tests/fixtures/make_real_corpus.py): each one, the
    0.3 s camera shutter alone in 10 s of silence included, is an event; no long silence covers any of them; the
    stretches between them are silence; a ringing phone, an alarm and a decaying chime are never a steady tone."""
    clip = real_corpus["clips"]["sounds"]
    found = [o for o in _observe(clip["path"]) if o.kind == "sound_event"]
    silences = [o for o in found if o.payload.label == "silence"]
    heard = [o for o in found if o.payload.label not in ("silence", "background")]
    for sound in clip["sounds"]:
        span = TimeSpan(start=sound["start"], end=sound["end"])
        # the alarm's beeps are events of their own, the pauses between them quiet: half its span is heard
        assert sum(o.span.overlap(span) for o in heard) >= 0.5 * span.duration, (sound, heard)
        # the half-second pauses between the alarm's beeps sit at -60 dBFS: short silences there are measured
        assert all(o.span.overlap(span) <= 0.1 for o in silences if o.span.duration >= 1.0), (sound, silences)
    for gap in clip["silences"]:
        span = TimeSpan(start=gap["start"], end=gap["end"])
        if span.duration >= 1.0:
            assert any(o.span.overlap(span) >= 0.6 * span.duration for o in silences), (gap, silences)
    assert not _events(found, "tone"), _events(found, "tone")


def test_music_on_hold_under_a_voice_is_no_tone_and_no_silence(real_corpus: dict[str, Any]) -> None:
    """A phone prompt over music-on-hold: its held notes are not "a steady tone", and nothing is silent."""
    found = _observe(real_corpus["clips"]["moh"]["path"])
    assert not _events(found, "tone")
    assert not _events(found, "silence")
