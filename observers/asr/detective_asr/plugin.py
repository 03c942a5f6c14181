"""Entry point of the ``asr`` observer: registers :class:`~detective_asr.tool.ASRTool`."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``asr`` tool (the model loads on first use)."""
    from detective_asr.tool import ASRTool  # here, not at import: discovering plugins stays light

    register(ASRTool())
