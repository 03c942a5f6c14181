"""Entry point of the captioning plugin: registers the ``template``, ``llm`` and ``direct`` captioners."""

from __future__ import annotations

from typing import Any

import detective
from detective.lazy import Lazy


@detective.hookimpl
def register_captioners(register: Any) -> None:
    """Register the bundled captioners (factories take no arguments), imported when a run first makes one."""
    register("template", Lazy("detective_captioning.template:TemplateCaptioner"))
    register("llm", Lazy("detective_captioning.llm:LLMCaptioner"))
    register("direct", Lazy("detective_captioning.direct:DirectCaptioner"))
