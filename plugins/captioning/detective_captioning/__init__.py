"""The bundled captioning plugin of omni-detective: caption format, and the template, LLM and direct captioners.

- :mod:`detective_captioning.format`: render a Caption to the canonical Markdown and parse it back.
- :class:`TemplateCaptioner` (``template``): offline, writes the caption from the evidence alone.
- :class:`LLMCaptioner` (``llm``): an OpenAI-compatible model integrates the evidence.
- :class:`DirectCaptioner` (``direct``): one omni model captions the raw media (no Detective).
"""

from detective_captioning.direct import DirectCaptioner
from detective_captioning.format import parse, render, validate
from detective_captioning.llm import LLMCaptioner
from detective_captioning.template import TemplateCaptioner

__all__ = ["DirectCaptioner", "LLMCaptioner", "TemplateCaptioner", "parse", "render", "validate"]
__version__ = "0.1.0"
