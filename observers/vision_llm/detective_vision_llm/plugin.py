"""Entry point of the ``vision_llm`` observer: registers :class:`~detective_vision_llm.tool.VisionLLMTool`."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``vision_llm`` tool (it joins a run's tool box only when an endpoint is configured)."""
    from detective_vision_llm.tool import VisionLLMTool  # here, not at import: discovering plugins stays light

    register(VisionLLMTool())
