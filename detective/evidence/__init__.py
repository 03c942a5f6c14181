"""The evidence board of a clip: merging, coverage, cross-checks of observers and LLM claims, grounding."""

from typing import Any

from detective._moved import forward


def __getattr__(name: str) -> Any:
    # detective.evidence was one module before it became this room; its public names still resolve, with a warning
    return forward(__name__, "detective.evidence.board", name)
