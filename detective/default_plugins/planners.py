"""Built-in planners, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

from typing import Any

from detective.hookspecs import hookimpl
from detective.lazy import Lazy
from detective.rule_planner import RulePlanner


@hookimpl
def register_planners(register: Any) -> None:
    """Register ``rule`` (offline default) and ``llm`` (function calling with a JSON fallback)."""
    register("rule", RulePlanner)
    register("llm", Lazy("detective.llm_planner:LLMPlanner"))  # imports the openai SDK: only when a run needs it
