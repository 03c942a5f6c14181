"""The ``scene`` observer's people detector: OpenCV 4's HOG descriptor reproduced, people found on real footage of
pedestrians (OpenCV's ``vtest.avi``), none on the corpus's shots without people, and the caption's sentence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from detective_captioning.scene import picture_sentences, unnamed_shots_sentence
from detective_scene import SceneTool
from detective_scene.engine import MODEL_DIR, PEOPLE_FILE
from detective_scene.people import descriptor, group

from detective.media import frames_at, probe
from detective.models import Coverage, Evidence, Observation, Query, TimeSpan


def _window() -> np.ndarray:
    """A 64x128 RGB test window: a diagonal ramp, a plaid and rings, one per channel."""
    y, x = np.mgrid[0:128, 0:64]
    channels = [
        (x * 9 + y * 5) % 256,
        np.sin(x / 5.0) * 60 + np.cos(y / 7.0) * 60 + 128,
        ((x - 32) ** 2 + (y - 64) ** 2) % 256,
    ]
    return np.stack(channels, axis=2).astype(np.uint8)


def test_the_descriptor_is_opencv_4s() -> None:
    # cv2.HOGDescriptor().compute() of opencv-python-headless 4.10.0.84 on the same window (its BGR copy), and the
    # default people detector's margin there
    expected = {0: 0.28957, 1: 0.01457, 17: 0.27849, 36: 0.25658, 500: 0.25574, 1000: 0.14208, 1799: 0.231}
    expected |= {2500: 0.00283, 3000: 0.00399, 3779: 0.28461}
    found = descriptor(_window())
    assert found.shape == (3780,)
    assert {i: round(float(found[i]), 5) for i in expected} == expected
    assert float(np.linalg.norm(found)) == pytest.approx(10.23172, abs=1e-4)
    svm = np.load(MODEL_DIR / PEOPLE_FILE)
    assert float(found @ svm[:-1] + svm[-1]) == pytest.approx(-4.66320, abs=1e-4)


def test_grouping_needs_more_than_two_windows() -> None:
    one = np.array([[10.0, 10.0, 74.0, 138.0]])
    three = np.array([[10.0, 10.0, 74.0, 138.0], [12.0, 10.0, 76.0, 138.0], [10.0, 14.0, 74.0, 142.0]])
    assert group(one, np.array([3.0])) == []
    (person,) = group(three, np.array([0.5, 2.0, 1.0]))
    assert person.score == 2.0 and person.box == pytest.approx((32 / 3, 34 / 3, 224 / 3, 418 / 3))


@pytest.fixture(scope="module")
def observed(real_footage: dict[str, Any]) -> dict[str, tuple[dict[str, Any], list[Observation]]]:
    """Every corpus clip with the ``scene`` observations of its ground-truth shots."""
    tool = SceneTool()
    out = {}
    for name, clip in real_footage["clips"].items():
        shots = [[s["start"], s["end"]] for s in clip["shots"]]
        out[name] = (clip, tool.observe(probe(clip["path"]), Query(tool="scene", arguments={"shots": shots})))
    return out


def test_people_are_found_among_the_pedestrians(observed: dict[str, Any], real_footage: dict[str, Any]) -> None:
    _clip, observations = observed["pedestrians"]
    (people,) = [o for o in observations if o.kind == "people"]
    assert people.payload.count >= 1 and len(people.payload.boxes) == people.payload.count
    assert people.payload.frames == 10 and people.payload.frames_with_people >= 3  # every 2 s of 20 s
    assert people.content.startswith(("a person", f"{people.payload.count} people"))
    # a frame of the pedestrians on its own: the detector sees at least one of them, a figure taller than wide
    engine = SceneTool().engine()
    ((_, frame),) = frames_at(real_footage["clips"]["pedestrians"]["path"], [people.payload.frame_time], max_side=448)
    found = engine.people(frame)
    assert found and all(p.box[3] - p.box[1] > p.box[2] - p.box[0] for p in found)


def test_no_people_where_there_are_none(observed: dict[str, Any]) -> None:
    for name, (clip, observations) in observed.items():
        for shot in clip["shots"]:
            span = TimeSpan(start=shot["start"], end=shot["end"])
            people = [o for o in observations if o.kind == "people" and o.span is not None and o.span.overlaps(span)]
            if not shot["people"]:
                assert people == [], (name, shot["name"], [o.content for o in people])


def test_the_caption_says_how_many_people_and_when() -> None:
    shot = TimeSpan(start=0.0, end=20.0)
    seen = Observation(
        tool="scene",
        kind="people",
        content="2 people (center, right)",
        span=TimeSpan(start=0.0, end=20.0),
        confidence=0.75,
        payload={"count": 2, "frame_times": [0.5, 1.5, 4.5, 5.5, 6.5, 8.5, 9.5, 11.5], "frames": 20},
    )
    looked = Coverage(tool="scene", query_key="q", aspects=("objects", "faces", "people"), detail="a frame every 1 s")
    board = Evidence(observations=[seen], coverage=[looked])
    (sentence,) = picture_sentences(board, shot)
    assert sentence == (
        "people are visible (the pedestrian detector finds up to two at once, in 8 of 20 sampled frames: 0:00.5, "
        "0:01.5, 0:04.5, 0:05.5, 0:06.5, 0:08.5 and 2 more)"
    )
    assert unnamed_shots_sentence(board, [shot]) == ""  # people named there: the shot is not "nothing named"
    alone = Observation(
        tool="scene", kind="people", content="a person (center)", span=shot, payload={"count": 1, "frame_times": [3.0]}
    )
    assert picture_sentences(Evidence(observations=[alone]), shot) == [
        "a person is visible (found by the pedestrian detector in 1 sampled frame: 0:03.0)"
    ]
