"""Storyline sentences from ``scene`` and ``audio_tags`` observations, and their cross-check notes."""

from __future__ import annotations

from detective_captioning.format import parse, render, validate
from detective_captioning.scene import agreement_notes, picture_sentences, scene_sentences, sound_sentences
from detective_captioning.template import build_caption

from detective.models import Evidence, MediaInfo, Observation, TimeSpan


def sp(a: float, b: float) -> TimeSpan:
    return TimeSpan(start=a, end=b)


def shot(i: int, a: float, b: float) -> Observation:
    return Observation(tool="shots", kind="shot", content=f"shot {i + 1}", span=sp(a, b), payload={"index": i})


def obj(noun: str, a: float, b: float, conf: float) -> Observation:
    return Observation(
        tool="scene", kind="object", content=noun, span=sp(a, b), confidence=conf, payload={"noun": noun}
    )


def face(count: int, a: float, b: float, positions: list[str]) -> Observation:
    payload = {"count": count, "positions": positions}
    return Observation(
        tool="scene", kind="face", content=f"{count} faces", span=sp(a, b), confidence=0.9, payload=payload
    )


def tag(name: str, phrase: str, a: float, b: float, conf: float) -> Observation:
    payload = {"class": name, "phrase": phrase}
    return Observation(
        tool="audio_tags", kind="sound_tag", content=name.lower(), span=sp(a, b), confidence=conf, payload=payload
    )


EVIDENCE = Evidence(
    observations=[
        shot(0, 0.0, 3.0),
        shot(1, 3.0, 6.0),
        obj("a cat", 0.0, 3.0, 0.89),
        obj("a cup of coffee", 3.0, 6.0, 0.65),
        face(1, 0.0, 3.0, ["top"]),
        face(2, 3.0, 6.0, ["left", "top-right"]),
        tag("Siren", "a siren", 0.5, 2.5, 0.7),
        tag("Music", "music", 3.5, 5.8, 0.4),
        Observation(tool="vision_llm", kind="description", content="A tabby cat sits on a chair.", span=sp(0.0, 3.0)),
    ]
)


def test_each_shot_says_what_it_shows_and_who_is_visible() -> None:
    assert picture_sentences(EVIDENCE, sp(0.0, 3.0)) == [
        "the picture appears to show a cat",
        "one person is visible, the face at the top of the frame",
    ]
    assert picture_sentences(EVIDENCE, sp(3.0, 6.0)) == [
        "the picture may show a cup of coffee",
        "two faces are visible (on the left, at the top right)",
    ]


def test_sounds_are_named_where_they_start() -> None:
    assert sound_sentences(EVIDENCE, sp(0.0, 3.0)) == ["a siren is heard from 0:00.5 to 0:02.5"]
    assert sound_sentences(EVIDENCE, sp(3.0, 6.0)) == ["what sounds like music is heard from 0:03.5 to 0:05.8"]
    assert scene_sentences(EVIDENCE, sp(6.0, 7.0)) == []


def test_speech_tag_is_left_to_the_transcript() -> None:
    heard = Observation(tool="asr", kind="speech", content="hello there", span=sp(0.0, 2.0), confidence=0.9)
    evidence = Evidence(observations=[heard, tag("Speech", "speech", 0.0, 2.0, 0.9)])
    assert sound_sentences(evidence, sp(0.0, 2.0)) == []


def test_agreement_with_another_observer_is_noted() -> None:
    (note,) = agreement_notes(EVIDENCE)
    assert note.startswith("vision_llm also mentions “cat” where scene reports a cat")


def test_template_caption_carries_the_sentences() -> None:
    media = MediaInfo(source="x.mp4", duration=6.0, has_video=True, has_audio=True)
    caption = build_caption(media, EVIDENCE)
    first, second = caption.storyline
    assert "The picture appears to show a cat." in first.text and "A siren is heard" in first.text
    assert "may show a cup of coffee" in second.text
    cross = next(s for s in caption.sections if s.title == "Cross-checks")
    assert "vision_llm also mentions “cat”" in cross.body
    markdown = render(caption, kind="video")
    assert validate(caption, media.duration) == [] and parse(markdown) == caption.without_sources()
