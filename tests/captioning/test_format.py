"""The canonical caption format: render, parse (rendered and model-written captions), validate."""

from __future__ import annotations

import random

import pytest
from detective_captioning.format import (
    NO_SPEECH_SENTENCE,
    NO_TEXT_SENTENCE,
    clock,
    format_time,
    parse,
    parse_report,
    parse_time,
    render,
    validate,
)

from detective.models import (
    Caption,
    CaptionSection,
    SpeakerProfile,
    StorylineSegment,
    TextElement,
    TimeSpan,
    TranscriptSegment,
    VisibleTextSpan,
)

WORDS = [
    "the", "camera", "pans", "left,", "a", "dog", "barks.", "“quoted”", '"straight"', "colon:", "50%", "10:30",
    "naïve", "café", "—", "(aside)", "it's", "Paris", "JOHN", "Smith", "semi;colon", "hash#tag", "don’t", "1,000",
    "-", "*stars*", "e.g.", "…", "中文", "C#",
]  # fmt: skip
TITLES = ["Overview", "Audio Quality Notes", "Scene 3: Finale", "C#", "Global Context", "Music and Mood"]
NAMES = ["Speaker 1", "Narrator", "Voice-over", "Dr. Ann Lee", "Speaker 2 (off-screen)"]


def _sentence(rng: random.Random, low: int = 1, high: int = 18) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    while words and words[0] in {"-", "*stars*", "—", "…", '"straight"', "“quoted”", "10:30"}:
        words.pop(0)
    return " ".join(words) or "calm"


def _text(rng: random.Random) -> str:
    """One or more lines, never blank at the edges, never starting like a heading or a time span."""
    lines = [_sentence(rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    if len(lines) > 2 and rng.random() < 0.5:
        lines.insert(1, "")
    return "\n".join(lines)


def _spans(rng: random.Random, n: int, hours: bool) -> list[TimeSpan]:
    t = rng.randint(0, 4_000_000 if hours else 100_000)
    out = []
    for _ in range(n):
        start = t
        end = start + rng.randint(0, 20_000)
        out.append(TimeSpan(start=start / 1000, end=end / 1000))
        t = start + rng.randint(0, 15_000)
    return out


def random_caption(rng: random.Random) -> Caption:
    """A valid caption: times on whole milliseconds, texts that cannot be mistaken for structure."""
    hours = rng.random() < 0.3
    storyline = [StorylineSegment(span=s, text=_text(rng)) for s in _spans(rng, rng.randint(0, 6), hours)]
    visible = None
    if rng.random() < 0.6:
        visible = [
            VisibleTextSpan(
                span=s,
                elements=[
                    TextElement(
                        text=_sentence(rng, 0, 5), appearance=_sentence(rng, 0, 10) if rng.random() < 0.8 else ""
                    )
                    for _ in range(rng.randint(0, 3))
                ],
            )
            for s in _spans(rng, rng.randint(0, 4), hours)
        ]
    speakers = [
        SpeakerProfile(name=name, profile=_sentence(rng) if rng.random() < 0.8 else "")
        for name in rng.sample(NAMES, rng.randint(0, 3))
    ]
    transcript = [
        TranscriptSegment(
            span=s,
            speaker=rng.choice(NAMES),
            state=_sentence(rng, 0, 8),
            content=_sentence(rng, 0, 25) if rng.random() < 0.9 else _sentence(rng) + "\n" + _sentence(rng),
        )
        for s in _spans(rng, rng.randint(0, 5), hours)
    ]
    sections = [
        CaptionSection(title=title, body=_text(rng) if rng.random() < 0.9 else "")
        for title in rng.sample(TITLES, rng.randint(0, 3))
    ]
    return Caption(
        storyline=storyline, visible_text=visible, speakers=speakers, transcript=transcript, sections=sections
    )


def test_times_render_and_parse() -> None:
    assert format_time(0) == "00:00.000"
    assert format_time(65.25) == "01:05.250"
    assert format_time(3599.9994) == "59:59.999"
    assert format_time(3725.5) == "01:02:05.500"
    assert format_time(-1.0) == "00:00.000"
    # one formatter, at the precision asked: prose's clock (tenths, no leading zero) and whole seconds
    assert clock(4.24) == format_time(4.24, 1, pad=False) == "0:04.2"
    assert clock(59.96) == "1:00.0" and clock(3723.46) == "1:02:03.5"
    assert format_time(3723.46, 0) == "01:02:03" and format_time(83.5, 0) == "01:24"
    assert parse_time("01:02:05.500") == 3725.5
    assert parse_time("1:02:05.5") == 3725.5
    assert parse_time("02:05") == 125.0
    assert parse_time("00:03,25") == 3.25
    with pytest.raises(ValueError):
        parse_time("soon")


def test_round_trip_over_many_generated_captions() -> None:
    rng = random.Random(20260407)
    for i in range(400):
        caption = random_caption(rng)
        text = render(caption)
        assert parse(text) == caption, f"caption {i} did not survive the round trip:\n{text}"


def test_render_is_the_canonical_format() -> None:
    caption = Caption(
        storyline=[StorylineSegment(span=TimeSpan(start=0, end=2.5), text="A bell rings.")],
        visible_text=[
            VisibleTextSpan(
                span=TimeSpan(start=1, end=2), elements=[TextElement(text="OPEN", appearance="red, top left")]
            )
        ],
        speakers=[SpeakerProfile(name="Narrator", profile="calm adult voice")],
        transcript=[
            TranscriptSegment(span=TimeSpan(start=0.5, end=3661), speaker="Narrator", state="calm", content="Hi.")
        ],
        sections=[CaptionSection(title="Overview", body="Short.")],
    )
    assert render(caption) == (
        "## Storyline\n00:00.000 - 00:02.500\nA bell rings.\n\n"
        "## Visible Text\n00:01.000 - 00:02.000\n“OPEN”: red, top left\n\n"
        "## Speakers and Transcript\nSpeaker profiles:\nNarrator - calm adult voice\n"
        "00:00.500 - 01:01:01.000\nSpeaker: Narrator\nState: calm\nContent: “Hi.”\n\n"
        "## Overview\nShort.\n"
    )


def test_empty_sections_say_so_explicitly() -> None:
    video = render(Caption(visible_text=[]))
    assert NO_TEXT_SENTENCE in video and NO_SPEECH_SENTENCE["video"] in video
    audio = render(Caption())
    assert "## Visible Text" not in audio and NO_SPEECH_SENTENCE["audio"] in audio
    assert parse(video) == Caption(visible_text=[])
    assert parse(audio) == Caption()


MODEL_STYLE = """Here is the detailed description you asked for.

## **1. Storyline**

**[00:00 - 00:04.5]**
The scene opens on a rainy street at night while a low hum fills the background.

01:00:04.500 – 01:00:09.000: A car passes from left to right, its tyres hissing on the wet asphalt.


### Visible Text
- 00:01.000 - 00:03.000
- "CLOSED": red neon sign, top right
* “Rue de l'Église”: white enamel plaque, left
00:05.000 - 00:06.000
"EXIT" (green, above the door)

**Speakers and Transcript**
Speaker profiles:
- **Narrator** - deep male voice, British accent
00:02.000 - 00:04.000
**Speaker:** Narrator
**State:** Slow, melancholic
**Content:** "It always rains here."
00:06.000 - 00:07.500
Speaker: Narrator
Content: “Always.”
State: whispered

## Overall Mood
Gloomy and quiet.
"""


def test_parses_model_style_caption() -> None:
    caption = parse(MODEL_STYLE)
    assert [(s.span.start, s.span.end) for s in caption.storyline] == [(0.0, 4.5), (3604.5, 3609.0)]
    assert caption.storyline[0].text.startswith("The scene opens on a rainy street")
    assert caption.storyline[1].text.startswith("A car passes from left to right")
    assert caption.visible_text is not None
    assert [[(e.text, e.appearance) for e in g.elements] for g in caption.visible_text] == [
        [("CLOSED", "red neon sign, top right"), ("Rue de l'Église", "white enamel plaque, left")],
        [("EXIT", "green, above the door")],
    ]
    assert caption.speakers == [SpeakerProfile(name="Narrator", profile="deep male voice, British accent")]
    assert [(t.speaker, t.state, t.content) for t in caption.transcript] == [
        ("Narrator", "Slow, melancholic", "It always rains here."),
        ("Narrator", "whispered", "Always."),
    ]
    assert caption.sections == [CaptionSection(title="Overall Mood", body="Gloomy and quiet.")]


def test_missing_optional_sections_and_no_speech_statement() -> None:
    text = """```markdown
## Storyline
00:00.000 - 00:10.000
Wind blows steadily.

## Speakers and Transcript
No speech appears in the audio.
```"""
    report = parse_report(text)
    assert report.caption.visible_text is None
    assert report.caption.transcript == [] and report.caption.speakers == []
    assert report.found == {"Storyline", "Speakers and Transcript"}
    assert report.caption.storyline[0].text == "Wind blows steadily."


def test_bare_timed_paragraphs_are_a_storyline() -> None:
    caption = parse("00:00 - 00:03\nA chime.\n00:03 - 00:07\nSilence, then a cough.")
    assert [(s.span.start, s.span.end, s.text) for s in caption.storyline] == [
        (0.0, 3.0, "A chime."),
        (3.0, 7.0, "Silence, then a cough."),
    ]
    assert parse("Just a paragraph about rain, no times at all.").storyline == []


def test_inline_transcript_turns() -> None:
    caption = parse('## Speakers and Transcript\n00:01.000 - 00:02.000\nHost: "Welcome back."\n')
    assert [(t.speaker, t.content) for t in caption.transcript] == [("Host", "Welcome back.")]


def test_reversed_span_is_reported_and_repaired() -> None:
    report = parse_report("## Storyline\n00:05.000 - 00:03.000\nOops.\n")
    assert report.caption.storyline[0].span == TimeSpan(start=3.0, end=5.0)
    assert any("ends before it starts" in p for p in report.problems)


def test_validate_reports_order_and_duration() -> None:
    good = parse("## Storyline\n00:00.000 - 00:05.000\nA.\n00:05.000 - 00:10.200\nB.\n")
    assert validate(good, 10.0) == []
    bad = parse(
        "## Storyline\n00:04.000 - 00:06.000\nA.\n00:01.000 - 00:02.000\nB.\n00:08.000 - 00:13.000\nC.\n"
        "## Speakers and Transcript\n00:12.000 - 00:12.500\nSpeaker: X\nContent: “late”\n"
    )
    problems = validate(bad, 10.0)
    assert any("storyline segment 2" in p and "out of order" in p for p in problems)
    assert any("storyline segment 3" in p and "past the end" in p for p in problems)
    assert any("transcript turn 1" in p and "starts after the end" in p for p in problems)
    assert validate(bad, None) == [p for p in problems if "out of order" in p]
