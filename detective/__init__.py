"""omni-detective: an agent that interrogates independent observers and writes detailed omni captions."""

from detective import _moved
from detective.hookspecs import hookimpl
from detective.jobs.record import CaptionRecord
from detective.logs import configure_default
from detective.models import (
    Caption,
    Evidence,
    MediaInfo,
    Observation,
    Query,
    RunResult,
    TimeSpan,
)
from detective.tools import FunctionTool, QuestionInput, SpanInput, Tool, ToolError, tool

__all__ = [
    "Caption",
    "CaptionRecord",
    "Detective",
    "Evidence",
    "FunctionTool",
    "MediaInfo",
    "Observation",
    "Query",
    "QuestionInput",
    "RunResult",
    "SpanInput",
    "TimeSpan",
    "Tool",
    "ToolError",
    "hookimpl",
    "tool",
]
__version__ = "0.1.0"

configure_default()
_moved.install()  # old module paths (detective.graph, detective.settings …) keep importing for a release


def __getattr__(name: str) -> object:
    # Detective pulls in LangGraph; import it on first use so `import detective` in a plugin stays light.
    if name == "Detective":
        from detective.agent.detective import Detective

        return Detective
    raise AttributeError(f"module 'detective' has no attribute {name!r}")
