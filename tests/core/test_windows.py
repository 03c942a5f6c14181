"""Long clips in windows: LLM observers are asked window by window (≤ window_seconds each, cut between speech
segments), local observers keep the whole clip, and the storyline tells a repeated window sentence once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from detective_captioning.template import build_caption
from detective_testserver import ChatServer

from detective.agent.detective import Detective
from detective.agent.windows import window_queries, window_spans
from detective.llm.settings import Settings
from detective.media import probe, wav_bytes
from detective.models import Evidence, Observation, Query, TimeSpan
from detective.testing.tools import ListenTool
from detective.tools import Tool


def _span(a: float, b: float) -> TimeSpan:
    return TimeSpan(start=a, end=b)


def test_windows_are_at_most_the_window_and_never_cut_a_speech_segment() -> None:
    speech = [_span(28.0, 33.0), _span(58.5, 61.0)]
    windows = window_spans(_span(0.0, 95.0), 30.0, speech)
    assert [(w.start, w.end) for w in windows] == [(0.0, 28.0), (28.0, 58.0), (58.0, 88.0), (88.0, 95.0)]
    assert all(w.duration <= 30.0 for w in windows)
    cuts = [w.end for w in windows[:-1]]
    assert not any(s.start < c < s.end for s in speech for c in cuts)
    # speech longer than half a window across the boundary: the window is not shrunk below half, it cuts
    assert [w.end for w in window_spans(_span(0.0, 60.0), 30.0, [_span(5.0, 40.0)])] == [30.0, 60.0]
    assert window_spans(_span(10.0, 35.0), 30.0) == [_span(10.0, 35.0)]  # short: unchanged


class _Local(Tool):
    name = "local"
    description = "a local observer"
    modalities = ("audio",)

    def observe(self, media, query):  # type: ignore[no-untyped-def]
        return []


def test_only_llm_observers_are_windowed(tmp_path: Path) -> None:
    clip = tmp_path / "long.wav"
    clip.write_bytes(wav_bytes(np.zeros(16000 * 70, dtype=np.float32)))
    media = probe(str(clip))
    tools = {"listen": ListenTool(), "local": _Local()}
    queries = [
        Query(tool="listen", question="What do you hear?"),
        Query(tool="local"),
        Query(tool="listen", question="Any music?", arguments={"start": 5.0, "end": 50.0}),
    ]
    out = window_queries(queries, media, tools, Evidence(), 30.0)
    listen = [q for q in out if q.tool == "listen" and q.question == "What do you hear?"]
    assert [(q.span.start, q.span.end) for q in listen] == [(0.0, 30.0), (30.0, 60.0), (60.0, 70.0)]
    assert [q for q in out if q.tool == "local"] == [queries[1]]  # the whole clip, as asked
    music = [q for q in out if q.question == "Any music?"]
    assert [(q.arguments["start"], q.arguments["end"]) for q in music] == [(5.0, 35.0), (35.0, 50.0)]
    assert window_queries(queries, media, tools, Evidence(), 0.0) == queries  # 0 turns windows off


def test_a_long_clip_goes_to_the_audio_model_window_by_window(tmp_path: Path) -> None:
    t = np.arange(16000 * 75) / 16000.0
    clip = tmp_path / "long.wav"
    clip.write_bytes(wav_bytes(0.2 * np.sin(2 * np.pi * 330.0 * t)))
    with ChatServer() as server:
        settings = Settings.from_env(env={}, api_key="sk-test-key", base_url=server.url, backoff=0.01)
        detective = Detective(
            tools=[ListenTool()], planner="llm", captioner="template", settings=settings, max_rounds=1
        )
        result = detective.run(str(clip))
    asked = sorted((c.span.start, c.span.end) for c in result.evidence.coverage if c.tool == "listen" and c.span)
    # the whole clip was heard, in windows of at most 30 s (without them the tool hears only its first 30 s)
    assert asked == [(0.0, 30.0), (30.0, 60.0), (60.0, 75.0)]
    assert result.usage.tool_calls["listen"] == 3
    heard = [o for o in result.evidence.observations if o.tool == "listen"]
    # the scripted model gives every window the same answer: the storyline tells it once
    storyline = " ".join(seg.text for seg in result.caption.storyline)
    clause = heard[0].content.split(";")[0].strip().lower()  # the answer's first clause, as the caption states it
    assert storyline.lower().count(clause) == 1, storyline


def test_storyline_tells_a_repeated_window_sentence_once(tmp_path: Path) -> None:
    clip = tmp_path / "c.wav"
    clip.write_bytes(wav_bytes(np.zeros(16000 * 90, dtype=np.float32)))
    media = probe(str(clip))
    answers = [
        "A steady hum fills the room. A door creaks open.",
        "A steady hum fills the room. Footsteps cross the floor.",
        "A steady hum fills the room.",
    ]
    evidence = Evidence(
        observations=[
            Observation(
                tool="audio_llm",
                kind="description",
                content=text,
                span=_span(30.0 * i, 30.0 * (i + 1)),
                payload={"question": "What do you hear?", "model": "m"},
            )
            for i, text in enumerate(answers)
        ]
    )
    storyline = " ".join(seg.text for seg in build_caption(media, evidence).storyline)
    told = storyline.lower()  # each clause stated once, as the observer's report
    assert told.count("a steady hum fills the room") == 1, storyline
    assert "a door creaks open" in told and "footsteps cross the floor" in told, storyline
