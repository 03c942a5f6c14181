"""Offline captions of real recordings (tests/fixtures/make_real_corpus.py) read as a user would.

Music-on-hold under a phone prompt is music over its whole span and one voice; desktop sounds apart by digital
silence are each told at their time and silence is claimed only between them; in pyannote's two-person sample
the voices' shares of the speech add up to 100% and no moment of speech is told twice.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from detective.agent.detective import Detective
from detective.models import RunResult

pytestmark = pytest.mark.slow

_CLOCK = re.compile(r"(\d+):(\d+(?:\.\d+)?)")


@pytest.fixture(scope="module")
def runs(real_corpus: dict[str, Any]) -> dict[str, tuple[dict[str, Any], RunResult]]:
    out = {}
    for name in ("moh", "sounds", "conversation"):
        truth = real_corpus["clips"][name]
        out[name] = (truth, Detective(captioner="template", offline=True).run(truth["path"]))
    return out


def _parts(result: RunResult) -> list[tuple[float, str]]:
    """``(segment start, clause)`` for every clause of the storyline."""
    return [
        (seg.span.start, part)
        for seg in result.caption.storyline
        for sentence in seg.sentences
        for part in re.split(r"(?<=[.;])\s+", sentence.text)
    ]


def _times(text: str) -> list[float]:
    return [int(m) * 60 + float(s) for m, s in _CLOCK.findall(text)]


def test_music_on_hold_is_music_throughout_under_one_voice(runs: dict[str, tuple[dict[str, Any], RunResult]]) -> None:
    truth, result = runs["moh"]
    music = [part for _, part in _parts(result) if re.search(r"\bmusic\b", part, re.I)]
    assert music, result.caption_markdown
    spans = [_times(part) for part in music]
    assert any(len(t) >= 2 and t[0] <= 4.0 and t[1] >= truth["music"][0]["end"] - 2.0 for t in spans), music
    assert "tone" not in result.caption_markdown
    assert [p.name for p in result.caption.speakers] == ["Speaker 1"]
    assert "Voice separation finds one speaker." in result.caption_markdown
    seconds = float(result.caption.speakers[0].profile.split(", ")[1].split(" s")[0])
    assert seconds <= truth["duration"]  # overlapping segments counted once


def test_desktop_sounds_are_told_and_silence_only_between_them(
    runs: dict[str, tuple[dict[str, Any], RunResult]],
) -> None:
    truth, result = runs["sounds"]
    parts = _parts(result)
    for start, part in parts:
        if not re.search(r"\bsilen", part, re.I):
            continue
        times = _times(part)
        claimed = (times[0], times[1]) if len(times) >= 2 else (start, times[0] if times else start)
        for sound in truth["sounds"]:
            shared = min(claimed[1], sound["end"]) - max(claimed[0], sound["start"])
            assert shared <= 0.1, (part, sound)
    told = " ".join(part for _, part in parts)
    for sound in truth["sounds"]:  # each sound's start is told within a third of a second
        assert any(abs(t - sound["start"]) <= 0.35 for t in _times(told)), (sound, told)
    assert not result.caption.transcript


def test_conversation_shares_add_up_and_no_moment_is_told_twice(
    runs: dict[str, tuple[dict[str, Any], RunResult]],
) -> None:
    """Whisper pads its segments, so pyannote's sample has neighbouring segments overlapping by up to 0.66 s
    (and shares of 2 + 49 + 52%): the transcript's turns follow each other, and every word is told once."""
    truth, result = runs["conversation"]
    shares = [
        int(re.search(r"(\d+)% of the transcribed speech", p.profile).group(1))  # type: ignore[union-attr]
        for p in result.caption.speakers
    ]
    assert len(shares) >= 2 and sum(shares) <= 101, shares
    turns = result.caption.transcript
    for a, b in itertools.pairwise(turns):
        assert a.span.end <= b.span.start + 1e-6, (a, b)
    told = " ".join(t.content for t in turns).lower()
    # each person says "originally from Chicago" once (reference turns 14.49-17.92 s and 18.05-21.49 s)
    assert told.count("originally from chicago") == 2
    spoken = sum(t.span.duration for t in turns)
    assert spoken <= truth["duration"]
