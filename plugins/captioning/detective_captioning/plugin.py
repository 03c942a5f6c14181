"""Entry point of the captioning plugin: registers the ``template``, ``llm`` and ``direct`` captioners."""

from __future__ import annotations

from typing import Any

import detective
from detective_captioning.direct import DirectCaptioner
from detective_captioning.llm import LLMCaptioner
from detective_captioning.template import TemplateCaptioner


@detective.hookimpl
def register_captioners(register: Any) -> None:
    """Register the bundled captioners (factories take no arguments)."""
    register("template", TemplateCaptioner)
    register("llm", LLMCaptioner)
    register("direct", DirectCaptioner)
