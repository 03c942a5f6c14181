"""Entry point of the ``speakers`` observer: registers the SpeakersTool."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``speakers`` tool."""
    from detective_speakers.tool import SpeakersTool  # here, not at import: discovering plugins stays light

    register(SpeakersTool())
