"""The offline Detective on the photographs clip: the rule planner runs ``scene`` after the shots, and the
caption says what each shot shows, who is visible and (with the optional ``audio_tags``) which sound is heard."""

from __future__ import annotations

import asyncio
from typing import Any

from detective_scene import SceneTool

from detective import Detective
from detective.agent.rule_planner import RulePlanner
from detective.media import probe
from detective.models import Evidence, Observation, TimeSpan
from detective.planning import PlanInput
from detective.plugins import get_registry


def test_rule_planner_runs_scene_after_the_shots(photo_clip: dict[str, Any]) -> None:
    media = probe(photo_clip["path"])
    tools = [get_registry().tool("shots"), SceneTool()]
    first = asyncio.run(
        RulePlanner().plan(PlanInput(media=media, evidence=Evidence(), tools=tools, round=1, max_rounds=4))
    )
    assert [q.tool for q in first.queries] == ["shots"]
    shots = [Observation(tool="shots", kind="shot", content="shot 1", span=TimeSpan(start=0.0, end=2.0))]
    board = Evidence(observations=shots, answered=[first.queries[0].key])
    second = asyncio.run(RulePlanner().plan(PlanInput(media=media, evidence=board, tools=tools, round=2, max_rounds=4)))
    assert [(q.tool, q.arguments) for q in second.queries] == [("scene", {"shots": [[0.0, 2.0]]})]


def test_caption_names_what_is_seen_and_heard(photo_clip: dict[str, Any]) -> None:
    tools = ["shots", "scene", "audio_events"]
    tagger = "audio_tags" in get_registry().tools
    if tagger:
        tools.append("audio_tags")
    result = Detective(tools=tools, offline=True).run(photo_clip["path"])
    paragraphs = {round(seg.span.start): seg.text for seg in result.caption.storyline}
    assert "One person is visible, the face at the top of the frame." in paragraphs[2]
    assert "The picture appears to show a cat." in paragraphs[5]
    assert "The picture appears to show a cup of coffee." in paragraphs[8]
    for start in (0, 11, 13):  # title card, colour bars, test pattern
        assert "picture" not in paragraphs[start] and "visible" not in paragraphs[start], paragraphs[start]
    claims = [o for o in result.evidence.observations if o.kind in {"object", "face"}]
    assert all(o.tool == "scene" and o.confidence is not None for o in claims) and len(claims) == 3
    if tagger:
        # a class names the sound audio_events measured, at the measured times, in one sentence
        assert "A siren is heard from 0:02.2 to 0:04.8" in paragraphs[2]
        assert "(named by the sound classifier)" in paragraphs[2]
        assert "Music is heard from 0:05.2 to 0:07.8" in paragraphs[5]
        assert "1000 Hz tone" in paragraphs[8] and "which the sound classifier takes for a beep" in paragraphs[8]
        assert "unclassified" not in paragraphs[5] and "music-like" not in paragraphs[2]
