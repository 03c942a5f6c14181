"""The captioner interface: turn a clip's evidence into a :class:`~detective.models.Caption`.

Concrete captioners arrive through the ``register_captioners`` hook (the bundled captioning plugin registers
``template``, ``llm`` and ``direct``; the core registers ``evidence`` and ``chat`` as minimal fallbacks).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from detective.evidence.crosscheck import CrossCheck, cross_check
from detective.models import Caption, Evidence, MediaInfo


class CaptionJob(BaseModel):
    """What a captioner gets: the clip, the evidence board and the Detective's conversation so far."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    media: MediaInfo
    evidence: Evidence
    trajectory: list[dict[str, Any]] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict, description="Captioner options from the caller.")
    _checks: CrossCheck | None = PrivateAttr(default=None)

    @property
    def checks(self) -> CrossCheck:
        """The board settled by the core's cross-check engine (computed once): every captioner writes from it."""
        if self._checks is None:
            self._checks = cross_check(self.evidence)
        return self._checks


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

    @abc.abstractmethod
    async def caption(self, job: CaptionJob) -> CaptionOutput:
        """Write the caption for ``job``."""
