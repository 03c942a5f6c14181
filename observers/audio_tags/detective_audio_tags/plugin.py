"""Entry point of the ``audio_tags`` observer: registers :class:`~detective_audio_tags.tool.AudioTagsTool`."""

from __future__ import annotations

from typing import Any

import detective
from detective_audio_tags.tool import AudioTagsTool


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``audio_tags`` tool."""
    register(AudioTagsTool())
