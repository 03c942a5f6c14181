"""The bundled captioners' options (``DetectiveConfig.captioner_options``), one model per captioner.

Kept apart from the captioners so that the plugin hook can declare them without importing the captioners: the
run checks the options against these models when it resolves the captioner (an unknown option or a bad value is a
:class:`~detective.errors.SettingsError` naming it).
"""

from __future__ import annotations

from pydantic import Field

from detective.captioning import CaptionerOptions

#: Longest audio chunk a captioner model hears at once in direct mode (seconds; its guidance is 30 s).
CHUNK_SECONDS = 30.0


class TemplateOptions(CaptionerOptions):
    """The template captioner has no options (its captions hold only what observations report)."""


class LLMOptions(CaptionerOptions):
    """Options of the ``llm`` captioner."""

    strict_grounding: bool = Field(default=False, description="Remove caption items that no observation reports.")
    temperature: float = Field(default=0.2, ge=0, description="Sampling temperature of the captioner model.")
    max_tokens: int | None = Field(default=None, gt=0, description="Reply tokens at most (none: the endpoint's).")


class DirectOptions(CaptionerOptions):
    """Options of the ``direct`` captioner."""

    no_prompt: bool = Field(default=False, description="Send audio only, no text (captioner models).")
    temperature: float | None = Field(default=None, ge=0, description="Sampling temperature (none: the model's).")
    max_tokens: int | None = Field(default=None, gt=0, description="Reply tokens at most (none: the endpoint's).")
    chunk_seconds: float = Field(
        default=CHUNK_SECONDS, gt=0, description="Longest audio chunk a captioner model hears at once (seconds)."
    )
