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


def event(label: str, a: float, b: float, **payload: object) -> Observation:
    return Observation(
        tool="audio_events", kind="sound_event", content=label, span=sp(a, b), payload={"label": label, **payload}
    )


def test_a_class_names_the_measured_event_it_covers_with_the_event_s_times() -> None:
    """The tone measured at 0:00.8–0:02.0 is the beep the classifier heard at 0:00.3–0:02.3: one sentence, the
    measured times, the class as the classifier's reading; silence is never named; a class over no event stays."""
    evidence = Evidence(
        observations=[
            shot(0, 0.0, 6.0),
            event("silence", 0.0, 0.8),
            event("tone", 0.8, 2.0, frequency_hz=1000.0, level_db=-11.0),
            tag("Beep, bleep", "a beep", 0.3, 2.3, 0.94),
            tag("Silence", "silence", 0.0, 0.8, 0.9),
            tag("Dog", "a dog", 4.0, 5.0, 0.3),
        ]
    )
    media = MediaInfo(source="x.mp4", duration=6.0, has_video=True, has_audio=True)
    (paragraph,) = build_caption(media, evidence).storyline
    assert "1000 Hz tone" in paragraph.text
    assert "0:02.0, which the sound classifier takes for a beep." in paragraph.text
    assert "silen" not in paragraph.text  # the measured 0.8 s of silence is where the classifier heard the beep
    assert "silence is heard" not in paragraph.text.lower()
    assert "a beep is heard" not in paragraph.text.lower() and "0:00.3" not in paragraph.text
    assert "what sounds like a dog is heard from 0:04.0 to 0:05.0" in paragraph.text.lower()
    sentence = next(s for s in paragraph.sentences if "beep" in s.text)
    assert {e.key for e in evidence.observations if e.kind in {"sound_event", "sound_tag"}} & set(sentence.sources)
    assert len(sentence.sources) == 2  # the tone and the beep
