"""Tools handed to a Detective are checked when it is built: a name the planner can call, a callable signature."""

from __future__ import annotations

import functools

import pytest

from detective.agent.detective import Detective
from detective.models import MediaInfo, Query
from detective.testing.fakes import ShotsTool
from detective.tools import FunctionTool, Tool, tool


def loudness(media: MediaInfo, query: Query) -> str:
    """The loudest moment."""
    return "loud at 0:01"


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(ValueError, match="a lambda has no name of its own") as info:
        Detective(tools=[lambda media, query: "x"], offline=True)
    assert "@tool(name=" in str(info.value) and "'<lambda>'" in str(info.value)
    named = Detective(tools=[FunctionTool(lambda media, query: "x", name="sketch")], offline=True)
    assert "sketch" in named.toolbox.tools


def test_a_function_the_detective_cannot_call_is_refused_with_the_call_it_needs() -> None:
    def no_arguments() -> str:
        return "x"

    def three(media, query, extra):
        return "x"

    for fn in (no_arguments, three):
        with pytest.raises(TypeError, match=rf"calls it as {fn.__name__}\(media, query\)"):
            Detective(tools=[fn], offline=True)


def test_usable_functions_pass() -> None:
    def with_default(media, query, detail=2):
        return "x"

    partial = functools.partial(lambda scale, media, query: "x", 2)
    box = Detective(
        tools=[loudness, with_default, tool(name="scaled")(partial), ShotsTool()], offline=True
    ).toolbox.tools
    assert {"loudness", "with_default", "scaled", "shots"} <= set(box)


def test_a_tool_class_with_an_unusable_name_is_refused() -> None:
    class Spaced(ShotsTool):
        name = "my shots"

    with pytest.raises(ValueError, match=r"'my shots'.*set the Tool subclass's `name`"):
        Detective(tools=[Spaced()], offline=True)
    assert isinstance(Spaced(), Tool)
