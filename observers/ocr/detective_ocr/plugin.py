"""Entry point of the ``ocr`` observer: registers :class:`~detective_ocr.tool.OCRTool`."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``ocr`` tool."""
    from detective_ocr.tool import OCRTool  # here, not at import: discovering plugins stays light

    register(OCRTool())
