"""Draw the Detective graph into the docs: the Mermaid block of ``docs/concepts.md`` and ``docs/img/graph.png``.

    python docs/gen_graph.py

Both come from ``omni-detective graph`` (the compiled LangGraph), so the picture shows the real edges.
``tests/docs/test_docs.py`` fails when the Mermaid block in concepts.md differs from the code's drawing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
CONCEPTS = DOCS / "concepts.md"
PNG = DOCS / "img" / "graph.png"
BLOCK = re.compile(r"(<!-- graph:start -->\n```mermaid\n)(.*?)(```\n<!-- graph:end -->)", re.S)


def mermaid() -> str:
    """The graph as ``omni-detective graph`` prints it."""
    from detective.agent.graph import graph

    return graph.get_graph().draw_mermaid().rstrip() + "\n"


def embedded(text: str) -> str | None:
    """The Mermaid text embedded in a page between the graph markers, or ``None``."""
    match = BLOCK.search(text)
    return match.group(2) if match else None


def main() -> None:
    """Rewrite the Mermaid block and the PNG."""
    text = CONCEPTS.read_text(encoding="utf-8")
    if embedded(text) is None:
        sys.exit(f"{CONCEPTS}: no <!-- graph:start --> ... <!-- graph:end --> mermaid block")
    CONCEPTS.write_text(BLOCK.sub(lambda m: m.group(1) + mermaid() + m.group(3), text), encoding="utf-8")
    PNG.parent.mkdir(exist_ok=True)
    subprocess.run(["omni-detective", "graph", "--format", "png", "--out", str(PNG)], check=True)


if __name__ == "__main__":
    main()
