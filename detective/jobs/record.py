"""The typed output record of ``omni-detective run``: written by the batch, read by report, cloze and resume.

One JSON line per clip: the input record's fields (kept as they are, whatever they are) plus what the run
produced. The Markdown caption is stored under ``caption`` unless the run was given another field name
(``--caption-field predicted_caption``); :meth:`CaptionRecord.from_json` and :meth:`CaptionRecord.to_json` take
that name. ``record_version`` says which shape a line has; records written before it existed read as version 0.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from detective.models import Caption, Evidence, Grounding, MediaInfo, Provenance, RoundRecord, RunResult

#: The shape written by this version of omni-detective.
RECORD_VERSION = 1


class RecordUsage(BaseModel):
    """What the clip's run spent (:meth:`detective.models.Usage.summary`), with its cost under a price table."""

    model_config = ConfigDict(extra="allow")

    models: dict[str, dict[str, int]] = Field(default_factory=dict)
    tool_calls: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    llm_calls: int = 0
    total_tokens: int = 0
    observer_calls: int = 0
    cost_usd: float | None = None


class RecordProvenance(Provenance):
    """The run's provenance plus the resume key of the input record."""

    model_config = ConfigDict(extra="allow")

    record_key: str


class CaptionRecord(BaseModel):
    """One output line. Fields not named here (the input record's) are kept as extra fields."""

    model_config = ConfigDict(extra="allow")

    record_version: int = RECORD_VERSION
    caption: str = Field(description="The Markdown caption (stored under the run's caption field name).")
    caption_struct: Caption
    omni_detective_trajectory: list[dict[str, Any]] = Field(default_factory=list)
    evidence: Evidence
    media: MediaInfo
    rounds: list[RoundRecord] = Field(default_factory=list)
    usage: RecordUsage = Field(default_factory=RecordUsage)
    provenance: RecordProvenance
    stop_reason: str = ""
    notes: list[str] = Field(default_factory=list)
    grounding: Grounding | None = None

    @classmethod
    def from_result(
        cls, input_record: dict[str, Any], key: str, result: RunResult, cost_usd: float | None = None
    ) -> CaptionRecord:
        """The record of one clip's run: the input fields plus everything the run produced."""
        usage = RecordUsage.model_validate(result.usage.summary())
        if cost_usd is not None:
            usage.cost_usd = round(cost_usd, 6)
        produced: dict[str, Any] = {
            "caption": result.caption_markdown,
            "caption_struct": result.caption,
            "omni_detective_trajectory": result.trajectory,
            "evidence": result.evidence,
            "media": result.media,
            "rounds": result.rounds,
            "usage": usage,
            "provenance": RecordProvenance(**result.provenance.model_dump(), record_key=key),
            "stop_reason": result.stop_reason,
            "notes": list(result.notes),
            "grounding": result.grounding,
        }
        named = set(cls.model_fields)
        kept = {k: v for k, v in input_record.items() if k not in named}
        return cls(record_version=RECORD_VERSION, **produced, **kept)  # validated: models pass, input fields kept

    @classmethod
    def from_json(cls, data: dict[str, Any], caption_field: str = "caption") -> CaptionRecord:
        """Read an output line (as parsed JSON) whose caption is under ``caption_field``."""
        data = dict(data)
        if caption_field != "caption":
            data["caption"] = data.pop(caption_field, None)
        data.setdefault("record_version", 0)
        return cls.model_validate(data)

    def to_json(self, caption_field: str = "caption") -> dict[str, Any]:
        """The JSON-ready line, the caption under ``caption_field``; empty optional parts are left out."""
        data = self.model_dump(mode="json", exclude_none=False)
        if data.get("grounding") is None:
            data.pop("grounding", None)
        if not data.get("notes"):
            data.pop("notes", None)
        if data["usage"].get("cost_usd") is None:
            data["usage"].pop("cost_usd", None)
        if caption_field != "caption":
            data[caption_field] = data.pop("caption")
        extra = self.model_extra or {}
        return {**{k: data[k] for k in extra}, **{k: v for k, v in data.items() if k not in extra}}

    @property
    def input_fields(self) -> dict[str, Any]:
        """The fields carried over from the input record."""
        return dict(self.model_extra or {})


#: The fields a run adds to an input record (besides the caption field): every field of :class:`CaptionRecord`.
ADDED_FIELDS: tuple[str, ...] = tuple(name for name in CaptionRecord.model_fields if name != "caption")
