"""Entry point of the captioning plugin: registers the ``template``, ``llm`` and ``direct`` captioners."""

from __future__ import annotations

from typing import Any

import detective
from detective.lazy import Lazy

#: name -> (the captioner, its options model), by import path within the package.
CAPTIONERS = {
    "template": ("template:TemplateCaptioner", "options:TemplateOptions"),
    "llm": ("llm:LLMCaptioner", "options:LLMOptions"),
    "direct": ("direct:DirectCaptioner", "options:DirectOptions"),
}


@detective.hookimpl
def register_captioners(register: Any) -> None:
    """Register the bundled captioners (factories take no arguments), imported when a run first makes one, with
    their options models (:mod:`detective_captioning.options`, imported when the run checks its options)."""
    for name, (captioner, options) in CAPTIONERS.items():
        register(name, Lazy(f"detective_captioning.{captioner}"), options=Lazy(f"detective_captioning.{options}"))
