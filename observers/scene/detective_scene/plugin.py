"""Entry point of the ``scene`` observer: registers :class:`~detective_scene.tool.SceneTool`."""

from __future__ import annotations

from typing import Any

import detective


@detective.hookimpl
def register_tools(register: Any) -> None:
    """Register the ``scene`` tool."""
    from detective_scene.tool import SceneTool  # here, not at import: discovering plugins stays light

    register(SceneTool())
