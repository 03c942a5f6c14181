"""Entry point of the ``audio_llm`` observer: registers :class:`~detective_audio_llm.tool.AudioLLMTool`."""

from __future__ import annotations

from typing import Any

import detective
from detective_audio_llm.tool import AudioLLMTool


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``audio_llm`` tool (it joins a run's tool box only when an endpoint is configured)."""
    register(AudioLLMTool())
