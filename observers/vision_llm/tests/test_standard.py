"""The standard tool tests (``detective.testing.ToolTests``) for ``vision_llm``, against the loopback chat server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from detective_testserver import ChatServer
from detective_vision_llm import VisionLLMTool

from detective.llm.settings import Settings
from detective.runtime import RunServices, use_services
from detective.testing import ToolTests


class TestVisionLLMToolStandard(ToolTests):
    """The standard tests, with the model answering from :class:`detective_testserver.ChatServer` on 127.0.0.1."""

    tool_class = VisionLLMTool
    registered_name = "vision_llm"

    @pytest.fixture
    def run_services(self) -> Iterator[RunServices]:
        """Run services pointed at a local scripted chat server (no network)."""
        with ChatServer() as server:
            settings = Settings(api_key="sk-test-standard", base_url=server.url, max_attempts=1, backoff=0.0)
            services = RunServices(settings=settings)
            with use_services(services):
                yield services
