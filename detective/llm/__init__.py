"""The LLM layer: the OpenAI-compatible client, its limits and retries, capabilities, role settings and sources."""

from typing import Any

from detective._moved import forward


def __getattr__(name: str) -> Any:
    # detective.llm was one module before it became this room; its public names still resolve, with a warning
    return forward(__name__, "detective.llm.client", name)
