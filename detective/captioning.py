"""The captioner interface: turn a clip's evidence into a :class:`~detective.models.Caption`.

Concrete captioners arrive through the ``register_captioners`` hook (the bundled captioning plugin registers
``template``, ``llm`` and ``direct``; the core registers ``evidence`` and ``chat`` as minimal fallbacks).

A captioner's options are typed: it declares a :class:`CaptionerOptions` model as ``Captioner.options_model``, and
the run validates ``DetectiveConfig.captioner_options`` against the chosen captioner's model where it resolves the
captioner (:func:`detective.agent.config.resolve_toolbox`), so ``CaptionJob.options`` is that model. A captioner
without a model (``options_model = None``) gets the options as a plain dict.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from detective.evidence.claims import Settled, settle
from detective.evidence.crosscheck import CrossCheck, cross_check
from detective.models import Caption, Evidence, MediaInfo


class CaptionerOptions(BaseModel):
    """Base of a captioner's options model: typed fields with defaults, no unknown keys, read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def get(self, name: str, default: Any = None) -> Any:
        """An option by name, like a dict's ``get`` (for code written against untyped options)."""
        return getattr(self, name) if name in type(self).model_fields else default


class CaptionJob(BaseModel):
    """What a captioner gets: the clip, the evidence board and the Detective's conversation so far."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    media: MediaInfo
    evidence: Evidence
    trajectory: list[dict[str, Any]] = Field(default_factory=list)
    options: CaptionerOptions | dict[str, Any] = Field(
        default_factory=dict,
        description="Captioner options from the caller: the captioner's options model once validated, else a dict.",
    )
    _checks: CrossCheck | None = PrivateAttr(default=None)
    _settled: list[Settled] | None = PrivateAttr(default=None)

    @property
    def checks(self) -> CrossCheck:
        """The board settled by the core's cross-check engine (computed once): every captioner writes from it."""
        if self._checks is None:
            self._checks = cross_check(self.evidence)
        return self._checks

    @property
    def settled(self) -> list[Settled]:
        """The LLM answers' clauses with their verdicts (:func:`detective.evidence.claims.settle`, computed once):
        what the LLM captioner's prompt lists and what the caption's grounding leaves out when contradicted."""
        if self._settled is None:
            self._settled = settle(self.evidence)
        return self._settled


class CaptionOutput(BaseModel):
    """What a captioner returns: the structured caption, its Markdown and what it added to the trajectory."""

    caption: Caption
    markdown: str
    trajectory: list[dict[str, Any]] = Field(default_factory=list, description="Messages to append.")
    notes: list[str] = Field(default_factory=list, description="Warnings for the user (e.g. a fallback).")
    prompt_hash: str | None = None


class Captioner(abc.ABC):
    """Base class of captioners. ``needs_api`` captioners are chosen by default only when online."""

    name: ClassVar[str] = ""
    needs_api: ClassVar[bool] = False
    #: The captioner's options (a :class:`CaptionerOptions` subclass); ``None``: options stay an untyped dict.
    options_model: ClassVar[type[CaptionerOptions] | None] = None

    def job_options(self, job: CaptionJob) -> Any:
        """``job.options`` as this captioner's options model (a dict given directly is validated here)."""
        if self.options_model is None or isinstance(job.options, self.options_model):
            return job.options
        if isinstance(job.options, BaseModel):  # another captioner's options (a fallback): the shared ones
            fields = self.options_model.model_fields
            return self.options_model.model_validate({k: v for k, v in job.options if k in fields})
        return self.options_model.model_validate(job.options)

    @abc.abstractmethod
    async def caption(self, job: CaptionJob) -> CaptionOutput:
        """Write the caption for ``job``."""
