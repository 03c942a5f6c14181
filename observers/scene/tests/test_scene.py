"""The ``scene`` observer on real photographs and on synthetic frames: right nouns, faces counted, no false claims."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from detective_scene import SceneTool
from detective_scene.engine import texture
from detective_scene.nouns import GROUPS, build_grouping
from detective_scene.tool import MIN_CONFIDENCE, grid_position, sample_times

from detective.media import frames_at, probe
from detective.models import Evidence, Observation, Query, TimeSpan
from detective.tools import ToolError


def _shots(clip: dict[str, Any]) -> list[list[float]]:
    return [[s["start"], s["end"]] for s in clip["shots"]]


@pytest.fixture(scope="module")
def photo_observations(photo_clip: dict[str, Any]) -> list[Observation]:
    """The scene observations of the photographs clip, cut at its true shots."""
    query = Query(tool="scene", arguments={"shots": _shots(photo_clip)})
    return SceneTool().observe(probe(photo_clip["path"]), query)


def _in(obs: Observation, shot: dict[str, Any]) -> bool:
    assert obs.span is not None
    return shot["start"] - 0.05 <= obs.span.start and obs.span.end <= shot["end"] + 0.05


def test_each_photograph_is_named_in_its_shot(photo_clip: dict[str, Any], photo_observations: list[Observation]):
    objects = [o for o in photo_observations if o.kind == "object"]
    for shot in photo_clip["shots"]:
        found = [o for o in objects if _in(o, shot)]
        if shot["noun"] is None:
            assert found == [], (shot["name"], [o.content for o in found])
            continue
        (obs,) = found
        assert obs.content == shot["noun"], shot["name"]
        assert obs.tool == "scene" and obs.confidence is not None and obs.confidence >= MIN_CONFIDENCE
        assert obs.payload.classes[0].p > 0.3
    coffee = next(o for o in objects if o.content == "a cup of coffee")
    assert coffee.payload.classes[0].name == "espresso"
    cat = next(o for o in objects if o.content == "a cat")
    assert {c.name for c in cat.payload.classes} <= {"tabby", "tiger cat", "Egyptian cat", "Persian cat"}


def test_faces_are_counted_and_placed(photo_clip: dict[str, Any], photo_observations: list[Observation]):
    faces = [o for o in photo_observations if o.kind == "face"]
    for shot in photo_clip["shots"]:
        found = [o for o in faces if _in(o, shot)]
        if shot["faces"] == 0:
            assert found == [], (shot["name"], [o.content for o in found])
            continue
        (obs,) = found
        assert obs.payload.count == shot["faces"]
        assert obs.content.startswith("1 face")
        assert obs.confidence is not None and obs.confidence >= 0.7
        x0, y0, x1, y1 = obs.payload.boxes[0]
        # the astronaut's face: upper middle of the picture
        assert 0.3 < (x0 + x1) / 2 < 0.7 and (y0 + y1) / 2 < 0.5


def test_no_claim_on_synthetic_frames(fixture_media: dict[str, Any], demo_path: str, photo_clip: dict[str, Any]):
    """False-positive rate 0 on every synthetic frame: the fixtures, the demo, title cards, bars, test patterns."""
    tool = SceneTool()
    claims: list[str] = []
    shots = 0
    for path in (fixture_media["clips"]["scene"]["path"], fixture_media["clips"]["silent"]["path"], demo_path):
        media = probe(path)
        spans = [[t, min(media.duration, t + 1.0)] for t in np.arange(0.0, media.duration - 0.2, 1.0)]
        shots += len(spans)
        claims += [o.content for o in tool.observe(media, Query(tool="scene", arguments={"shots": spans}))]
    synthetic = [[s["start"], s["end"]] for s in photo_clip["shots"] if s["kind"] == "synthetic"]
    shots += len(synthetic)
    claims += [
        o.content for o in tool.observe(probe(photo_clip["path"]), Query(tool="scene", arguments={"shots": synthetic}))
    ]
    assert shots == 45
    assert claims == []


def test_classifier_and_detector_on_raw_frames(photo_clip: dict[str, Any]) -> None:
    engine = SceneTool().engine()
    grouping = build_grouping(engine.labels)
    (_, cat), (_, coffee), (_, card) = frames_at(photo_clip["path"], [6.5, 9.5, 1.0], max_side=448)
    assert next(iter(grouping.scores(engine.classify(cat)))) == "a cat"
    assert grouping.labels[int(np.argmax(engine.classify(coffee)))] == "espresso"
    assert texture(card) < 0.3 < texture(cat)
    assert engine.faces(card) == [] and engine.faces(cat) == []


def test_every_noun_group_names_real_classes() -> None:
    grouping = build_grouping(SceneTool().engine().labels)
    assert len(grouping.labels) == 1000
    assert set(GROUPS) <= set(grouping.group_of)
    assert grouping.group_of[grouping.labels.index("tabby")] == "a cat"
    assert grouping.group_of[grouping.labels.index("tripod")] == "a camera on a tripod"
    assert grouping.group_of[grouping.labels.index("acorn")] == "an acorn"
    with pytest.raises(KeyError):
        build_grouping(["tabby"])


def test_sampling_and_grid() -> None:
    assert sample_times(TimeSpan(start=2.0, end=2.6), 1.0) == [2.3]
    assert sample_times(TimeSpan(start=0.0, end=4.0), 1.0) == [0.5, 1.5, 2.5, 3.5]
    assert grid_position((0.4, 0.1, 0.6, 0.3)) == "top"
    assert grid_position((0.0, 0.7, 0.2, 0.9)) == "bottom-left"
    assert grid_position((0.4, 0.4, 0.6, 0.6)) == "center"


def test_broad_query_uses_the_shots_on_the_board(photo_clip: dict[str, Any]) -> None:
    media = probe(photo_clip["path"])
    shots = [
        Observation(tool="shots", kind="shot", content=f"shot {i}", span=TimeSpan(start=a, end=b))
        for i, (a, b) in enumerate(_shots(photo_clip))
    ]
    tool = SceneTool()
    (query,) = tool.broad_queries(media, Evidence(observations=shots))
    assert query.arguments["shots"] == _shots(photo_clip)
    assert tool.broad_queries(media, Evidence())[0].arguments == {}
    assert tool.stage == 1 and tool.modalities == ("video",)


def test_audio_only_clip_is_refused(fixture_media: dict[str, Any]) -> None:
    with pytest.raises(ToolError, match="no video"):
        SceneTool().observe(probe(fixture_media["clips"]["speech"]["path"]), Query(tool="scene"))


def test_registered_as_a_plugin() -> None:
    from detective.plugins import get_registry

    assert isinstance(get_registry().tool("scene"), SceneTool)
