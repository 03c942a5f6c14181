"""Entry point of the ``audio_events`` observer: registers the AudioEventsTool."""

from __future__ import annotations

from typing import Any

import detective
from detective_audio_events.tool import AudioEventsTool


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``audio_events`` tool."""
    register(AudioEventsTool())
