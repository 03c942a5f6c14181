"""Entry point of the ``shots`` observer: registers :class:`~detective_shots.tool.ShotsTool`."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``shots`` tool."""
    from detective_shots.tool import ShotsTool  # here, not at import: discovering plugins stays light

    register(ShotsTool())
