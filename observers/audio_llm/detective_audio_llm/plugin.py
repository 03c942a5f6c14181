"""Entry point of the ``audio_llm`` observer: registers :class:`~detective_audio_llm.tool.AudioLLMTool`."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``audio_llm`` tool (it joins a run's tool box only when an endpoint is configured)."""
    from detective_audio_llm.tool import AudioLLMTool  # here, not at import: discovering plugins stays light

    register(AudioLLMTool())
