"""The RulePlanner asks an audio question tool about each separated voice, once, on its longest turn."""

from __future__ import annotations

from detective.agent.rule_planner import MAX_VOICES, RulePlanner
from detective.models import Evidence, MediaInfo, Observation, TimeSpan
from detective.planning import PlanInput
from detective.testing.tools import ListenTool

AUDIO = MediaInfo(source="call.wav", duration=60.0, has_audio=True)


def turn(label: str, a: float, b: float) -> Observation:
    return Observation(
        tool="speakers", kind="speaker", content=f"speaker {label}", span=TimeSpan(start=a, end=b), round=1,
        confidence=0.9, payload={"speaker": label},
    )  # fmt: skip


async def plan_round_2(observations: list[Observation]) -> list:
    inp = PlanInput(media=AUDIO, evidence=Evidence(observations=observations), tools=[ListenTool()], round=2,
                    max_rounds=6)  # fmt: skip
    return (await RulePlanner().plan(inp)).queries


async def test_each_voice_is_asked_about_on_its_longest_turn() -> None:
    queries = await plan_round_2([turn("S1", 0.0, 2.0), turn("S2", 2.5, 9.0), turn("S1", 9.5, 40.0)])
    voice = [q for q in queries if "one voice speaks" in (q.question or "")]
    assert [(q.span.start, q.span.end) for q in voice] == [(9.5, 29.5), (2.5, 9.0)]  # at most 20 s of a turn
    assert "speaker S1" in voice[0].question and "accent" in voice[0].question
    assert all(q.tool == "listen" for q in voice)


async def test_one_voice_or_no_question_tool_asks_nothing() -> None:
    queries = await plan_round_2([turn("S1", 0.0, 2.0), turn("S1", 3.0, 5.0)])
    assert not [q for q in queries if "one voice speaks" in (q.question or "")]
    many = [turn(f"S{i}", 2.0 * i, 2.0 * i + 1.5) for i in range(1, 8)]
    queries = await plan_round_2(many)
    assert len([q for q in queries if "one voice speaks" in (q.question or "")]) == MAX_VOICES
