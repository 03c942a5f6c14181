"""MkDocs hook: each Mermaid fence becomes an SVG drawn at build time, so the page shows the diagram offline.

Material for MkDocs would load mermaid.js from a CDN in the reader's browser; ``mermaid-render`` (the ``docs``
extra) draws the diagram in an embedded QuickJS at build time instead, without a browser or a download. The
Mermaid source stays in the page under the drawing, folded, for copying.
"""

from __future__ import annotations

import html
import re
from typing import Any

FENCE = re.compile(r"^```mermaid\n(.*?)^```\n", re.S | re.M)


def render(source: str) -> str:
    """The HTML that replaces one Mermaid fence: the SVG and the folded source."""
    from mermaid_render import convert

    svg = convert(source, format="svg", theme="default").decode("utf-8")
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    return (
        f'<figure class="mermaid-svg" markdown="0">\n{svg}\n</figure>\n\n'
        f'<details class="mermaid-source"><summary>Mermaid source</summary>\n'
        f"<pre><code>{html.escape(source)}</code></pre>\n</details>\n"
    )


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace every Mermaid fence of a page by its drawing."""
    return FENCE.sub(lambda m: render(m[1]), markdown)
