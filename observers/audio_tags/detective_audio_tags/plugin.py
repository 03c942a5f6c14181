"""Entry point of the ``audio_tags`` observer: registers :class:`~detective_audio_tags.tool.AudioTagsTool`."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``audio_tags`` tool."""
    from detective_audio_tags.tool import AudioTagsTool  # here, not at import: discovering plugins stays light

    register(AudioTagsTool())
