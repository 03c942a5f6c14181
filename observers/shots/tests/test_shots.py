"""The ``shots`` observer on fixture clips with known cuts."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from detective_shots import ShotsTool

from detective.media import probe
from detective.models import Query, TimeSpan
from detective.plugins import get_registry
from detective.testing import ToolTests
from detective.tools import ToolError


def _run(path: str, **arguments: Any) -> list[Any]:
    return ShotsTool().observe(probe(path), Query(tool="shots", arguments=arguments))


@pytest.mark.parametrize("name", ["scene", "silent"])
def test_cuts_match_ground_truth(fixture_media: dict[str, Any], name: str) -> None:
    clip = fixture_media["clips"][name]
    shots = _run(clip["path"])
    assert len(shots) == len(clip["shots"])
    for found, truth in zip(shots, clip["shots"], strict=True):
        assert found.kind == "shot"
        assert found.span.start == pytest.approx(truth["start"], abs=0.2)
        assert found.span.end == pytest.approx(truth["end"], abs=0.2)
    assert [o.content for o in shots] == [f"shot {i + 1}" for i in range(len(shots))]
    assert [o.payload.index for o in shots] == list(range(len(shots)))
    assert shots[0].payload.cut_score is None
    assert all(o.payload.cut_score > 27.0 for o in shots[1:])
    # shots tile the clip
    assert shots[0].span.start == 0.0
    assert shots[-1].span.end == pytest.approx(clip["duration"], abs=0.05)
    assert all(a.span.end == b.span.start for a, b in itertools.pairwise(shots))


def test_text_overlays_are_not_cuts(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    cuts = [o.span.start for o in _run(clip["path"])[1:]]
    for text in clip["texts"]:
        for edge in (text["start"], text["end"]):
            assert all(abs(edge - cut) > 0.2 for cut in cuts if edge not in clip["cuts"])


def test_span_arguments_and_query_span(fixture_media: dict[str, Any]) -> None:
    path = fixture_media["clips"]["scene"]["path"]
    shots = _run(path, start=5.0, end=13.0)
    edges = [e for o in shots for e in (o.span.start, o.span.end)]
    assert edges == pytest.approx([5.0, 8.0, 8.0, 12.0, 12.0, 13.0], abs=0.2)
    inside = ShotsTool().observe(probe(path), Query(tool="shots", span=TimeSpan(start=1.0, end=3.0)))
    assert len(inside) == 1 and (inside[0].span.start, inside[0].span.end) == (1.0, 3.0)


def test_clip_without_cuts_is_one_shot(fixture_media: dict[str, Any]) -> None:
    shots = _run(fixture_media["bad"]["4k"])
    assert len(shots) == 1
    assert (shots[0].span.start, shots[0].span.end) == pytest.approx((0.0, 1.0), abs=0.05)


def test_high_threshold_drops_soft_cuts(fixture_media: dict[str, Any]) -> None:
    path = fixture_media["clips"]["scene"]["path"]
    default = _run(path)
    strict = _run(path, threshold=70.0)
    kept = [o for o in default[1:] if o.payload.cut_score >= 70.0]
    assert len(strict) == len(kept) + 1 < len(default)


def test_audio_only_clip_does_not_apply_and_fails_clearly(fixture_media: dict[str, Any]) -> None:
    media = probe(fixture_media["clips"]["speech"]["path"])
    tool = ShotsTool()
    assert not tool.applies_to(media)
    with pytest.raises(ToolError, match="no video stream"):
        tool.observe(media, Query(tool="shots"))


def test_registered_through_entry_point() -> None:
    tool = get_registry().tool("shots")
    assert isinstance(tool, ShotsTool)
    assert tool.spec().modalities == ["video"]
    assert "threshold" in tool.spec().parameters["properties"]


class TestShotsToolStandard(ToolTests):
    """The standard tests every tool passes (``detective.testing.ToolTests``), on the demo clip."""

    tool_class = ShotsTool
    registered_name = "shots"


def test_fast_score_equals_pyscenedetects(fixture_media: dict[str, Any]) -> None:
    """The detector's one-pass HSV score is PySceneDetect's own ContentDetector score, frame for frame, on the
    frames the scaled stream delivers (already at the detector's working size)."""
    from detective_shots.tool import _scaled_stream, _scoring_detector
    from scenedetect import ContentDetector
    from scenedetect.scene_manager import compute_downscale_factor

    stream = _scaled_stream()(fixture_media["clips"]["scene"]["path"])
    width = stream._codec_context.width
    factor = compute_downscale_factor(width)
    assert stream.frame_size == (round(width / factor), round(stream._codec_context.height / factor))
    ours, theirs = _scoring_detector()(), ContentDetector()
    scores = []
    for _ in range(150):  # across the 4 s cut
        frame = stream.read()
        assert frame is not False and (frame.shape[1], frame.shape[0]) == stream.frame_size
        timecode = stream.position
        scores.append((ours._calculate_frame_score(timecode, frame), theirs._calculate_frame_score(timecode, frame)))
    assert [a for a, _ in scores] == [b for _, b in scores]
    assert max(a for a, _ in scores) > 27.0  # the cut is among them
