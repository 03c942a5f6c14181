"""Built-in planners, registered through the same hook a third-party plugin uses."""

from __future__ import annotations

from typing import Any

from detective.agent.rule_planner import RulePlanner
from detective.hookspecs import hookimpl
from detective.lazy import Lazy


@hookimpl
def register_planners(register: Any) -> None:
    """Register ``rule`` (offline default), ``hybrid`` (online default: the local broad pass, then the LLM
    planner) and ``llm`` (the paper's pure LLM planner: function calling with a JSON fallback)."""
    register("rule", RulePlanner)
    register("hybrid", Lazy("detective.agent.hybrid_planner:HybridPlanner"))
    register("llm", Lazy("detective.agent.llm_planner:LLMPlanner"))  # imports the openai SDK: only when a run needs it
