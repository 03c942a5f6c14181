"""Online faithfulness (issue 29): LLM observers' answers are claims to cross-check, never text to paste.

The real local observers run on the race fixture clip (a low male voice, then a high female one, on-screen titles,
a 1 kHz tone); the audio and vision LLM observers answer from the loopback test server with a scripted answer,
either the issue's confident hallucination or a truthful description.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from detective_captioning.format import render
from detective_captioning.template import build_caption
from detective_testserver import ChatServer
from detective_testserver.scripted import ScriptedDetective, request_kind

from detective.agent.detective import Detective
from detective.evidence.claims import clauses
from detective.evidence.crosscheck import cross_check
from detective.evidence.grounding import caption_texts, measure
from detective.llm.settings import Settings
from detective.models import Evidence, RunResult

pytestmark = pytest.mark.slow

#: The issue's hallucination, the door moved from 0:12 (where the race clip's noise bed has a rustle the sound
#: classifier names, which a door could be) to 0:05, where only speech was measured.
FALSE = (
    "A woman speaks clearly in a quiet room about classical literature; a soft piano plays underneath "
    "from 00:03 and a door closes at 00:05."
)
TRUE = (
    "A man says “Elena Park is leading the race”. A short tone sounds at about 00:07. "
    "Later a woman says “Marcus Webb is closing in fast”."
)


class Observers(ScriptedDetective):
    """The scripted Detective, with every LLM observer answering ``answer`` and the captioner ``caption``."""

    def __init__(self, answer: str, caption: str) -> None:
        super().__init__(rounds=1)
        self.answer, self.written = answer, caption

    def __call__(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kind = request_kind(body)
        if kind == "observer":
            return kind, {"role": "assistant", "content": self.answer}
        if kind == "captioner":
            return kind, {"role": "assistant", "content": self.written}
        return super().__call__(body)


def pasting(duration: float) -> str:
    """A captioner's caption that writes the observers' answer as fact (what the LLM captioner must not do)."""
    end = f"00:{duration:06.3f}"
    return (
        f"## Storyline\n00:00.000 - {end}\nThe audio model reported: {FALSE}\n"
        f"## Visible Text\nNo on-screen text.\n## Speakers and Transcript\nNo speech.\n"
    )


def run(clip: dict[str, Any], answer: str, caption: str) -> RunResult:
    with ChatServer(responder=Observers(answer, caption)) as server:
        settings = Settings.from_env(env={}, api_key="sk-test", base_url=server.url, backoff=0.01)
        return Detective(planner="rule", captioner="llm", settings=settings).run(clip["path"])


@pytest.fixture(scope="module")
def race(fixture_media: dict[str, Any]) -> dict[str, Any]:
    return fixture_media["clips"]["race"]


@pytest.fixture(scope="module")
def lied_to(race: dict[str, Any]) -> RunResult:
    return run(race, FALSE, pasting(race["duration"]))


def test_a_hallucinating_observer_is_cross_examined(lied_to: RunResult) -> None:
    result = lied_to
    assert {o.tool for o in result.evidence.by_kind("description")} == {"audio_llm", "vision_llm"}
    # The template writes from the same board (what the fallback writes when a caption cannot be parsed).
    template = build_caption(result.media, result.evidence)
    markdown = render(template, kind=result.media.kind)
    story = " ".join(s.text for s in template.storyline)
    # No pasted or repeated answer: no false clause in the storyline, no sentence twice in the caption.
    for clause in clauses(FALSE):
        assert clause.rstrip(".") not in story, clause
    sentences = [s.text for seg in template.storyline for s in seg.sentences]
    assert len(sentences) == len(set(sentences))
    # Each false claim is a contradiction on the board and is listed under Cross-checks with both sources.
    cross = next(s.body for s in template.sections if s.title == "Cross-checks")
    for clause in ("about classical literature", "a soft piano plays underneath from 00:03", "a door closes"):
        line = next(line for line in cross.splitlines() if clause in line)
        assert "audio_llm" in line and "vision_llm" in line and "left out" in line
    aspects = {r.aspect for r in result.evidence.contradictions if r.aspect}
    assert {"topic", "music", "sound"} <= aspects
    # The transcript is the recogniser's, settled without any LLM text: no time stamp put in a speaker's mouth.
    local = Evidence(observations=[o for o in result.evidence.observations if o.kind != "description"])
    settled = cross_check(local)
    expected = [settled.said(o) for o in local.by_kind("speech") if o.key not in settled.rejected]
    assert [t.content for t in template.transcript] == expected
    assert not any(re.search(r"\d:\d\d", t.content) for t in template.transcript)
    # Grounding counts support: the captioner that pasted the answer is below 1.0, its false claims ungrounded.
    assert result.grounding is not None and result.grounding.score < 1.0
    assert {"piano", "door"} <= set(result.grounding.ungrounded)
    assert measure(caption_texts(markdown), result.evidence, result.media).score > result.grounding.score


def test_a_truthful_observer_is_confirmed_in_the_caption(race: dict[str, Any]) -> None:
    result = run(race, TRUE, "not a caption")  # the captioner fails: the template writes the caption
    assert any("template caption was used" in n for n in result.notes)
    story = " ".join(s.text for s in result.caption.storyline)
    assert "a man says “Elena Park is leading the race”, which" in story
    assert "a short tone sounds at about 00:07, which" in story
    assert story.count("Elena Park is leading the race”, which") == 1  # two models, one statement
    assert not [r for r in result.evidence.contradictions if r.aspect == "quote"]
    assert result.grounding is not None and result.grounding.score == 1.0, result.grounding
