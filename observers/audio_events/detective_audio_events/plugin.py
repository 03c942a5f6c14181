"""Entry point of the ``audio_events`` observer: registers the AudioEventsTool."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``audio_events`` tool."""
    from detective_audio_events.tool import AudioEventsTool  # here, not at import: discovering plugins stays light

    register(AudioEventsTool())
