"""Online, a photo montage with speech is examined by the local observers too: its caption has a transcript and
visible text (hybrid planning's round 1), against the loopback OpenAI-compatible server."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from detective_testserver import ChatServer

from detective.agent.detective import Detective
from detective.llm.settings import Settings

pytestmark = pytest.mark.slow


def _montage_with_speech(photo_clip: dict[str, Any], speech: str, out: Path) -> Path:
    """The photo montage's pictures with a spoken soundtrack (the speech clip), muxed by ffmpeg."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", photo_clip["path"], "-i", speech]
    cmd += ["-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return out


def test_online_photo_montage_caption_has_transcript_and_visible_text(
    photo_clip: dict[str, Any], fixture_media: dict[str, Any], tmp_path: Path
) -> None:
    speech = fixture_media["clips"]["speech"]
    clip = _montage_with_speech(photo_clip, speech["path"], tmp_path / "montage.mp4")
    with ChatServer() as server:  # plays planner and observers; it asks two questions a round
        settings = Settings.from_env(env={}, api_key="sk-test", base_url=server.url, backoff=0.01, timeout=30.0)
        det = Detective(
            tools=["shots", "ocr", "asr", "audio_llm", "vision_llm"],
            captioner="template",  # the scripted server's own caption is canned: the template writes from the board
            settings=settings,
            max_rounds=3,
        )
        result = det.run(str(clip))
    assert result.provenance.planner == "hybrid"
    assert sorted(q.tool for q in result.rounds[0].ran) == ["asr", "audio_llm", "shots", "vision_llm"]
    assert "ocr" in {q.tool for q in result.rounds[1].ran}  # on the shots' keyframes, beside the model's questions
    caption = result.caption
    said = " ".join(t.content for t in caption.transcript).lower()
    assert "the quick" in said and "lazy" in said and "easy to find" in said  # ASR of espeak through AAC
    shown = [e.text for group in caption.visible_text or [] for e in group.elements]
    assert any("Three photographs" in text for text in shown), shown
    for unexamined in ("Speech was not examined", "On-screen text was not examined", "speech was not examined"):
        assert unexamined not in result.caption_markdown
    assert not result.evidence.failures
