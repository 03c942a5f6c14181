"""Test utilities for plugin authors: :class:`ToolTests`, the standard tests every tool's tests subclass (it
imports pytest, so it loads on first use), and in-process fakes (:mod:`detective.testing.fakes`,
:mod:`detective.testing.tools`). The loopback OpenAI-compatible chat server lives outside the runtime package, in
the ``omni-detective-testserver`` distribution (``tests/testserver``): ``from detective_testserver import
ChatServer``."""

from typing import Any

__all__ = ["ToolTests"]


def __getattr__(name: str) -> Any:
    if name == "ToolTests":
        from detective.testing.standard import ToolTests

        return ToolTests
    raise AttributeError(f"module 'detective.testing' has no attribute {name!r}")
