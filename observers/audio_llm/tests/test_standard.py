"""The standard tool tests (``detective.testing.ToolTests``) for ``audio_llm``, against the loopback chat server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from detective_audio_llm import AudioLLMTool
from detective_testserver import ChatServer

from detective.llm.settings import Settings
from detective.runtime import RunServices, use_services
from detective.testing import ToolTests


class TestAudioLLMToolStandard(ToolTests):
    """The standard tests, with the model answering from :class:`detective_testserver.ChatServer` on 127.0.0.1."""

    tool_class = AudioLLMTool
    registered_name = "audio_llm"

    @pytest.fixture
    def run_services(self) -> Iterator[RunServices]:
        """Run services pointed at a local scripted chat server (no network)."""
        with ChatServer() as server:
            settings = Settings(api_key="sk-test-standard", base_url=server.url, max_attempts=1, backoff=0.0)
            services = RunServices(settings=settings)
            with use_services(services):
                yield services
