"""omni-detective: an agent that interrogates independent observers and writes detailed omni captions."""

from detective.hookspecs import hookimpl
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
