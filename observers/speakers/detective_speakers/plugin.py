"""Entry point of the ``speakers`` observer: registers the SpeakersTool."""

from __future__ import annotations

from typing import Any

import detective
from detective_speakers.tool import SpeakersTool


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``speakers`` tool."""
    register(SpeakersTool())
