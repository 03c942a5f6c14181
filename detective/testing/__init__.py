"""Test utilities shipped with the package: a loopback OpenAI-compatible chat server with fault injection."""

from detective.testing.server import ChatServer, Faults, Quirks, ScriptedDetective, ServerStats, request_kind

__all__ = ["ChatServer", "Faults", "Quirks", "ScriptedDetective", "ServerStats", "request_kind"]
