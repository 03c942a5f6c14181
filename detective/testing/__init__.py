"""Test utilities shipped with the package: a loopback OpenAI-compatible chat server with fault injection, and
:class:`ToolTests`, the standard tests every tool's tests subclass (it imports pytest, so it loads on first use)."""

from typing import Any

from detective.testing.server import ChatServer, Faults, Quirks, ScriptedDetective, ServerStats, request_kind

__all__ = ["ChatServer", "Faults", "Quirks", "ScriptedDetective", "ServerStats", "ToolTests", "request_kind"]


def __getattr__(name: str) -> Any:
    if name == "ToolTests":
        from detective.testing.standard import ToolTests

        return ToolTests
    raise AttributeError(f"module 'detective.testing' has no attribute {name!r}")
