"""The bundled captioning plugin of omni-detective: caption format, and the template, LLM and direct captioners.

- :mod:`detective_captioning.format`: render a Caption to the canonical Markdown and parse it back.
- :class:`TemplateCaptioner` (``template``): offline, writes the caption from the evidence alone.
- :class:`LLMCaptioner` (``llm``): an OpenAI-compatible model integrates the evidence.
- :class:`DirectCaptioner` (``direct``): one omni model captions the raw media (no Detective).
"""

from detective.lazy import lazy_exports

__all__ = ["DirectCaptioner", "LLMCaptioner", "TemplateCaptioner", "parse", "render", "validate"]
__version__ = "0.1.0"

# importing the package, as discovering its plugin does, imports none of its libraries: a name on first use
__getattr__ = lazy_exports(
    __name__,
    {
        "detective_captioning.direct": ["DirectCaptioner"],
        "detective_captioning.format": ["parse", "render", "validate"],
        "detective_captioning.llm": ["LLMCaptioner"],
        "detective_captioning.template": ["TemplateCaptioner"],
    },
)
