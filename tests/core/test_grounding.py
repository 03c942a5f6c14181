"""Grounding: the share of a caption's quoted words, names and numbers that an observation reports."""

from __future__ import annotations

import asyncio

from detective.captioning import Captioner, CaptionJob, CaptionOutput
from detective.coverage import examined, how, unexamined_modalities
from detective.detective import Detective
from detective.grounding import claims, measure
from detective.models import Caption, Coverage, Evidence, MediaInfo, Observation, StorylineSegment, TimeSpan
from detective.testing.fakes import EchoTool

BOARD = Evidence(
    observations=[
        Observation(tool="ocr", kind="text", content="Runner 42: Elena Park", span=TimeSpan(start=0, end=5)),
        Observation(tool="asr", kind="speech", content="Elena Park is leading", span=TimeSpan(start=1, end=3)),
    ]
)


def test_claims_are_quoted_words_names_and_numbers_not_measurements() -> None:
    text = "At 0:01.0 Runner 42 leads; “Elena Park is leading” (1.5 seconds, -17 dBFS, 120 Hz, shot 2) as Mars waits."
    assert claims(text) == ["elena", "park", "is", "leading", "runner", "42", "mars"]


def test_grounded_and_ungrounded_claims() -> None:
    found = measure(["“Elena Park is leading”, says Runner 42.", "Then Marcus Webb wins 7 medals."], BOARD)
    assert found.ungrounded == ["marcus", "webb", "7"]
    assert found.claims == 9 and found.score == round(6 / 9, 4)
    assert measure(["Nothing to claim here at 0:01.0."], BOARD).score == 1.0


class Inventor(Captioner):
    """A captioner that names someone no observer reported."""

    name = "inventor"

    async def caption(self, job: CaptionJob) -> CaptionOutput:
        span = TimeSpan(start=0, end=job.media.duration)
        caption = Caption(storyline=[StorylineSegment(span=span, text="Then Napoleon Bonaparte speaks.")])
        return CaptionOutput(caption=caption, markdown="## Storyline\n00:00.000 - 00:10.000\nThen Napoleon speaks.\n")


def test_a_run_lists_the_claims_no_observation_reports(audio: MediaInfo) -> None:
    result = asyncio.run(Detective(tools=[EchoTool()], captioner=Inventor(), offline=True).arun("a", media=audio))
    assert result.grounding is not None and result.grounding.ungrounded == ["napoleon"]
    assert any("claims no observation reports" in n and "“napoleon”" in n for n in result.notes)


def test_coverage_says_what_was_examined_and_how() -> None:
    board = Evidence(
        coverage=[
            Coverage(
                tool="ocr", query_key="a", aspects=("text",), span=TimeSpan(start=0, end=6), detail="OCR at 1 frame/s"
            ),
            Coverage(tool="ocr", query_key="b", aspects=("text",), span=TimeSpan(start=6, end=10)),
            Coverage(tool="asr", query_key="c", modalities=("audio",), aspects=("speech",), ok=False, error="boom"),
        ]
    )
    assert examined(board, "text", TimeSpan(start=0, end=10)) and not examined(board, "text", TimeSpan(start=0, end=12))
    assert not examined(board, "speech") and how(board, "text") == "OCR at 1 frame/s"
    clip = MediaInfo(source="c.mp4", duration=10, has_audio=True, has_video=True)
    assert unexamined_modalities(clip, board, [("audio",), ("video",)]) == ["audio", "video"]
    assert unexamined_modalities(clip, board, [("audio",)]) == ["audio"]
