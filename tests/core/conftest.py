"""Fixtures for the core tests: online settings for a respx-mocked endpoint, and probed-looking media."""

from __future__ import annotations

import pytest

from detective.llm.settings import Settings
from detective.models import MediaInfo

BASE_URL = "https://llm.test/v1"
API_KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture
def settings() -> Settings:
    """Online settings pointing at the respx-mocked endpoint, with instant retries."""
    return Settings(api_key=API_KEY, base_url=BASE_URL, backoff=0.0, max_attempts=3, timeout=5.0)


@pytest.fixture
def video() -> MediaInfo:
    """A probed-looking 10 s video with audio (no file needed: tools here do not decode)."""
    return MediaInfo(
        source="clip.mp4",
        duration=10.0,
        has_audio=True,
        has_video=True,
        width=640,
        height=360,
        fps=25.0,
        audio_sample_rate=16000,
    )


@pytest.fixture
def audio() -> MediaInfo:
    """A probed-looking 10 s audio file."""
    return MediaInfo(source="clip.wav", duration=10.0, has_audio=True, audio_sample_rate=16000)
