"""Offline end to end: the real observers on the fixture clips through the Detective, captioned by the template.

Every ground-truth cut, on-screen text, sentence, tone and noise burst must appear in the caption at its time.
"""

from __future__ import annotations

import difflib
from typing import Any

import pytest
from detective_captioning.format import clock, parse, validate

from detective.agent.detective import Detective
from detective.models import Caption, RunResult, StorylineSegment

pytestmark = pytest.mark.slow

#: OCR samples frames, so a text track may start or end up to about one sampling step off.
TEXT_SLACK = 1.0
#: ASR and VAD place a sentence within this many seconds of its true start.
SPEECH_SLACK = 0.6


@pytest.fixture(scope="module")
def runs(fixture_media: dict[str, Any]) -> dict[str, tuple[dict[str, Any], RunResult]]:
    out = {}
    for name in ("scene", "silent", "speech", "race"):
        truth = fixture_media["clips"][name]
        out[name] = (truth, Detective(captioner="template", offline=True).run(truth["path"]))
    return out


def said_in(content: str, sentence: str) -> float:
    """How closely the best run of ``content``'s words, as long as ``sentence``, matches ``sentence`` (0-1)."""
    words, n = content.split(), len(sentence.split())
    windows = [" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))]
    return max(similar(w, sentence) for w in windows)


def segment_at(caption: Caption, t: float) -> StorylineSegment:
    """The storyline paragraph whose span holds ``t`` (the last one holds the clip's end too)."""
    for seg in caption.storyline:
        if seg.span.start <= t < seg.span.end:
            return seg
    return caption.storyline[-1]


def similar(a: str, b: str) -> float:
    norm = lambda s: " ".join("".join(c for c in s.lower() if c.isalnum() or c.isspace()).split())  # noqa: E731
    return difflib.SequenceMatcher(None, norm(a), norm(b)).ratio()


@pytest.mark.parametrize("name", ["scene", "silent", "speech", "race"])
def test_caption_covers_the_ground_truth(runs: dict[str, tuple[dict[str, Any], RunResult]], name: str) -> None:
    truth, result = runs[name]
    caption = result.caption
    assert parse(result.caption_markdown) == caption.without_sources()
    assert validate(caption, truth["duration"]) == []
    assert caption.storyline[0].span.start == 0.0
    assert abs(caption.storyline[-1].span.end - truth["duration"]) < 0.1
    # Cuts: a storyline paragraph starts at each cut and says when.
    for cut in truth["cuts"]:
        seg = next(s for s in caption.storyline if abs(s.span.start - cut) < 0.1)
        assert clock(cut) in seg.text, seg.text
    # On-screen text: in Visible Text with its span, and told in the storyline where it appears.
    if truth["has_video"]:
        assert caption.visible_text is not None
        elements = [(g.span, e) for g in caption.visible_text for e in g.elements]
        for text in truth["texts"]:
            span, element = max(elements, key=lambda se: similar(se[1].text, text["text"]))
            assert similar(element.text, text["text"]) >= 0.9, (text, element)
            assert abs(span.start - text["start"]) <= TEXT_SLACK and abs(span.end - text["end"]) <= TEXT_SLACK
            assert text["position"].replace("center", "centre").split("-")[0] in element.appearance
            assert f"“{element.text}”" in segment_at(caption, span.start).text
    else:
        assert caption.visible_text is None and "## Visible Text" not in result.caption_markdown
    # Speech: every sentence said in a transcript turn at its time (a turn starts with it, or it runs on inside the
    # turn: the recogniser may keep two sentences of one voice with a short pause in one segment), and each turn
    # quoted in the storyline paragraph of its time.
    for sentence in truth["speech"]:
        turn = next(
            (t for t in caption.transcript if t.span.start - SPEECH_SLACK <= sentence["start"] < t.span.end),
            None,
        )
        assert turn is not None, (sentence, caption.transcript)
        assert said_in(turn.content, sentence["text"]) >= 0.7, (sentence, turn)
    for turn in caption.transcript:
        assert any(abs(turn.span.start - s["start"]) <= SPEECH_SLACK for s in truth["speech"]), turn
        opening = " ".join(turn.content.split()[:3])
        assert opening in segment_at(caption, turn.span.start).text
    if not truth["speech"]:
        assert caption.transcript == []
        assert caption.no_speech is not None and "no speech" in caption.no_speech.lower()
    # Sound events: tones with their frequency, noise bursts, at their start.
    for tone in truth["tones"]:
        assert f"{tone['freq']:.0f} Hz tone" in segment_at(caption, tone["start"]).text
        assert clock(tone["start"]) in segment_at(caption, tone["start"]).text
    for burst in truth["noise"]:
        paragraph = segment_at(caption, burst["start"]).text
        assert "broadband noise" in paragraph and clock(burst["start"]) in paragraph
    overview = next(s.body for s in caption.sections if s.title == "Overview")
    assert f"{truth['duration']:.1f} seconds" in overview


@pytest.mark.parametrize("name", ["scene", "silent", "speech", "race"])
def test_every_claim_of_the_template_caption_is_grounded(runs: dict[str, tuple[dict[str, Any], RunResult]], name: str):
    _, result = runs[name]
    assert result.grounding is not None and result.grounding.score == 1.0, result.grounding
    assert result.grounding.claims > 0
    for seg in result.caption.storyline:
        assert seg.sentences and " ".join(s.text for s in seg.sentences) == seg.text
    keys = {o.key for o in result.evidence.observations}
    items = [*(s for seg in result.caption.storyline for s in seg.sentences), *result.caption.transcript]
    items += [e for g in result.caption.visible_text or [] for e in g.elements]
    for item in items:
        assert set(item.sources) <= keys, item
    for turn in result.caption.transcript:
        assert turn.sources, turn


def test_names_shown_on_screen_are_repaired_in_the_transcript(runs: dict[str, tuple[dict[str, Any], RunResult]]):
    truth, result = runs["race"]
    said = " ".join(t.content for t in result.caption.transcript)
    shown_names = {"Elena Park", "Marcus Webb"}
    for sentence in truth["speech"]:
        for name in shown_names:
            if name in sentence["text"]:
                turn = min(result.caption.transcript, key=lambda t: abs(t.span.start - sentence["start"]))
                assert name in turn.content, (name, turn.content)
    assert "League" not in said and "Lena Park" not in said
    assert "42" in said


def test_a_noise_bed_is_never_called_silence(runs: dict[str, tuple[dict[str, Any], RunResult]]):
    truth, result = runs["race"]
    assert truth["bed_dbfs"] > -45
    text = result.caption_markdown.lower()
    assert "silence" not in text.replace("no true silence", "").replace("true silence fills about 0%", "")
    assert "background" in text


def test_transcript_word_precision_on_names_and_numbers(runs: dict[str, tuple[dict[str, Any], RunResult]]):
    """Words the transcript states (``[unclear]`` aside) that the script has: the share must stay high."""
    truth, result = runs["race"]
    script = {w for s in truth["speech"] for w in _words(s["text"])}
    said = [w for t in result.caption.transcript for w in _words(t.content.replace("[unclear]", " "))]
    precision = sum(w in script for w in said) / len(said)
    assert precision >= 0.85, (precision, said)


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()
