"""The data model of a Detective run: media, queries, observations, evidence, captions and results.

Every name here is a word of the project's vocabulary (see docs/concepts.md). All models are pydantic, so they
serialise to the JSONL records of the batch pipeline without custom code.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, model_validator

from detective.evidence.words import comparable_words
from detective.payloads import (  # noqa: F401  (re-exported: the payload models are part of the data model)
    PAYLOADS,
    ClassScore,
    DescriptionPayload,
    FacePayload,
    ImageClass,
    MetadataPayload,
    NounGuess,
    ObjectPayload,
    Payload,
    PeoplePayload,
    ShotPayload,
    SoundEventPayload,
    SoundTagPayload,
    SpeakerPayload,
    SpeechPayload,
    TextPayload,
    Word,
    payload_for,
)

Modality = Literal["audio", "video"]

ObservationKind = Literal[
    "shot",  # a continuous camera shot
    "text",  # on-screen text (OCR)
    "speech",  # a transcribed speech segment (ASR)
    "sound_event",  # a labelled span of the audio signal
    "speaker",  # one speaker's turn (diarisation): payload.speaker is a label such as "S1"
    "description",  # a free-form answer of an LLM observer
    "metadata",  # facts about the container or streams
    "object",  # what a shot appears to show, as a plain noun (an image classifier)
    "face",  # faces visible in a shot: how many and where (a face detector)
    "people",  # whole figures visible in a shot: how many, where and when (a people detector)
    "sound_tag",  # a named class of sound over a span (an audio classifier: siren, music, dog …)
]


class TimeSpan(BaseModel):
    """A closed interval of clip time in seconds."""

    model_config = ConfigDict(frozen=True)

    start: float = Field(ge=0.0, description="Start, seconds from the clip's beginning.")
    end: float = Field(ge=0.0, description="End, seconds from the clip's beginning.")

    @model_validator(mode="after")
    def _ordered(self) -> TimeSpan:
        if self.end < self.start:
            raise ValueError(f"span end {self.end} is before its start {self.start}")
        return self

    @property
    def duration(self) -> float:
        """Length of the span in seconds."""
        return self.end - self.start

    def overlap(self, other: TimeSpan) -> float:
        """Seconds shared with ``other`` (0 when disjoint)."""
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))

    def overlaps(self, other: TimeSpan, tolerance: float = 0.0) -> bool:
        """True when the spans share time, or touch within ``tolerance`` seconds."""
        return self.start <= other.end + tolerance and other.start <= self.end + tolerance


#: A transcribed word starting with one of these leans on the word before it ("8" ",000", "it" "'s", "now" ".").
_LEANING = (",", ".", ";", ":", "!", "?", "%", ")", "'", "’", "-")


def join_words(words: list[str]) -> str:
    """Transcribed words (stripped, as observers report them) as text: "8" ",000" is "8,000", not "8 ,000"."""
    text = ""
    for word in (w.strip() for w in words):
        if not word:
            continue
        text += word if not text or word.startswith(_LEANING) else " " + word
    return text


def plain_words(text: str) -> str:
    """``text``'s words for comparing two reports: lower case, every mark that is not a letter, digit or space read
    as a space, spaces collapsed (``"Dog-like, isn't it?"`` is ``"dog like isn t it"``; the core's one word
    normaliser, :func:`detective.evidence.words.comparable_words`)."""
    return " ".join(comparable_words(text, marks="all"))


def format_time(seconds: float, decimals: int = 3, *, pad: bool = True) -> str:
    """A clip time as text, the one formatter of clip times: ``MM:SS.mmm`` (``HH:MM:SS.mmm`` from one hour on), the
    caption format's timestamps, by default.

    ``decimals`` digits of the second are kept (rounded; 0: none and no point); ``pad=False`` writes the leading
    field without its zero, as prose does (``format_time(4.2, 1, pad=False)`` is ``0:04.2``, ``1:02:03.5`` past an
    hour).
    """
    scale = 10**decimals
    units = round(max(0.0, seconds) * scale)
    hours, rest = divmod(units, 3600 * scale)
    minutes, rest = divmod(rest, 60 * scale)
    secs, frac = divmod(rest, scale)
    tail = f".{frac:0{decimals}d}" if decimals > 0 else ""
    lead = "02d" if pad else "d"
    if hours:
        return f"{hours:{lead}}:{minutes:02d}:{secs:02d}{tail}"
    return f"{minutes:{lead}}:{secs:02d}{tail}"


class MediaInfo(BaseModel):
    """A probed input clip: where it is and what streams it has (frozen: change a copy, ``model_copy(update=…)``)."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="Local path or URL as given by the user.")
    path: str | None = Field(default=None, description="Local file that holds the media (download for URLs).")
    duration: float = Field(ge=0.0, description="Duration in seconds.")
    has_audio: bool = False
    has_video: bool = False
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    container: str | None = None
    size_bytes: int | None = None
    content_hash: str | None = Field(default=None, description="sha256 of the file's bytes, the cache key.")

    @property
    def modalities(self) -> frozenset[str]:
        """The modalities this clip has: a subset of {"audio", "video"}."""
        found = set()
        if self.has_audio:
            found.add("audio")
        if self.has_video:
            found.add("video")
        return frozenset(found)

    @property
    def kind(self) -> Literal["video", "audio", "none"]:
        """``video`` when there is a picture, ``audio`` for sound only."""
        return "video" if self.has_video else ("audio" if self.has_audio else "none")


class ToolSpec(BaseModel):
    """What the planner knows of a tool: its name, purpose, arguments and the modalities it needs."""

    name: str
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the tool's arguments.")
    modalities: list[Modality] = Field(description="Every modality listed must be present in the clip.")
    version: str = "0"


class _Derived(BaseModel):
    """A frozen model whose ``functools.cached_property`` values are computed afresh for every copy."""

    model_config = ConfigDict(frozen=True)

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy with ``update`` applied; cached properties are dropped so the copy computes its own."""
        copy = super().model_copy(update=update, deep=deep)
        for klass in type(self).__mro__:
            for name, value in vars(klass).items():
                if isinstance(value, functools.cached_property):
                    copy.__dict__.pop(name, None)
        return copy


class Query(_Derived):
    """One probe of the clip: a tool, its arguments (a question for LLM observers) and an optional span."""

    tool: str
    question: str | None = None
    span: TimeSpan | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = Field(default=None, description="Why the planner asked; not sent to the observer.")

    @functools.cached_property
    def key(self) -> str:
        """A stable identity used to drop repeated queries and to key the cache."""
        body = {
            "tool": self.tool,
            "question": (self.question or "").strip().lower(),
            "span": [round(self.span.start, 3), round(self.span.end, 3)] if self.span else None,
            "arguments": self.arguments,
        }
        return hashlib.sha1(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Observation(_Derived):
    """What one observer reported for one query. Immutable: change one with ``model_copy(update=...)``.

    ``payload`` is the model of the observation's kind (:data:`detective.payloads.PAYLOADS`, e.g.
    :class:`~detective.payloads.SpeechPayload` for ``speech``); a dict given for it is validated into that model.
    """

    tool: str
    kind: ObservationKind
    content: str
    span: TimeSpan | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    payload: SerializeAsAny[Payload] = Field(
        default_factory=Payload, description="What was measured, as the kind's payload model."
    )
    query_key: str | None = None
    round: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _kind_payload(cls, data: Any) -> Any:
        if isinstance(data, dict) and "kind" in data:
            data = {**data, "payload": payload_for(str(data["kind"]), data.get("payload"))}
        return data

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any:
        """A copy with ``update`` applied; a ``payload`` given as a dict becomes the kind's payload model."""
        if update and ("payload" in update or "kind" in update):
            kind = str(update.get("kind", self.kind))
            update = {**update, "payload": payload_for(kind, update.get("payload", self.payload))}
        return super().model_copy(update=update, deep=deep)

    @functools.cached_property
    def words(self) -> str:
        """The content lower-cased, without punctuation, spaces collapsed: what two reports must share to match."""
        return plain_words(self.content)

    @functools.cached_property
    def key(self) -> str:
        """Identity for deduplication: same tool, kind, words and (rounded) span."""
        span = (round(self.span.start, 1), round(self.span.end, 1)) if self.span else None
        return hashlib.sha1(f"{self.tool}|{self.kind}|{self.words}|{span}".encode()).hexdigest()[:16]


class Relation(BaseModel):
    """An agreement or a contradiction between two observations from different tools."""

    kind: Literal["agreement", "contradiction"]
    a: str = Field(description="Key of the first observation.")
    b: str = Field(description="Key of the second observation.")
    tools: tuple[str, str]
    span: TimeSpan | None = None
    a_says: str
    b_says: str
    note: str = ""
    aspect: str | None = Field(
        default=None,
        description="Set for an LLM observer's claim checked by detective.evidence.claims (voice, topic, music …).",
    )


class ToolFailure(BaseModel):
    """An observer that could not answer: recorded, never fatal to the run."""

    tool: str
    query_key: str
    error: str
    round: int | None = None


#: What a tool can vouch for when it finds nothing: ``text`` (OCR read no text), ``speech`` (ASR heard no words),
#: ``sound`` (signal analysis measured the level, so silence is silence), ``shots`` (the cut detector ran).
Aspect = Literal["shots", "text", "speech", "sound", "speakers", "objects", "faces", "people", "sound_classes"]


class Coverage(BaseModel):
    """What one observer run examined: which tool, modalities and aspects, over which span, and whether it worked.

    Absence ("no on-screen text was read") may be stated only over spans a successful run covered for that aspect.
    """

    model_config = ConfigDict(frozen=True)

    tool: str
    query_key: str
    modalities: tuple[Modality, ...] = ()
    aspects: tuple[Aspect, ...] = Field(default=(), description="What a run that finds nothing rules out.")
    span: TimeSpan | None = Field(default=None, description="The clip time examined (None: the whole clip).")
    detail: str = Field(default="", description='How it was examined, for the caption ("OCR at 1 frame/s").')
    ok: bool = True
    error: str = ""
    round: int | None = None
    undecoded: tuple[tuple[Modality, TimeSpan], ...] = Field(
        default=(), description="Spans of a stream the run's decoding skipped as damaged: (modality, span)."
    )


class Evidence(BaseModel):
    """The board of observations for a clip, deduplicated, with agreements and contradictions noted."""

    observations: list[Observation] = Field(default_factory=list)
    agreements: list[Relation] = Field(default_factory=list)
    contradictions: list[Relation] = Field(default_factory=list)
    failures: list[ToolFailure] = Field(default_factory=list)
    answered: list[str] = Field(default_factory=list, description="Keys of the queries already run.")
    coverage: list[Coverage] = Field(default_factory=list, description="What each observer run examined.")

    def by_tool(self, tool: str) -> list[Observation]:
        """Observations reported by ``tool``, in time order."""
        found = [o for o in self.observations if o.tool == tool]
        return sorted(found, key=lambda o: o.span.start if o.span else -1.0)

    def by_kind(self, kind: str) -> list[Observation]:
        """Observations of ``kind``, in time order."""
        found = [o for o in self.observations if o.kind == kind]
        return sorted(found, key=lambda o: o.span.start if o.span else -1.0)


# --- Caption ---------------------------------------------------------------------------------------------


class GroundedSentence(BaseModel):
    """One sentence of a caption and the keys of the observations it rests on."""

    text: str
    sources: list[str] = Field(default_factory=list)


class StorylineSegment(BaseModel):
    """One ``<start> - <end>`` paragraph of the storyline."""

    span: TimeSpan
    text: str
    sentences: list[GroundedSentence] = Field(
        default_factory=list, description="The paragraph's sentences with the observations each rests on."
    )


class TextElement(BaseModel):
    """One line of visible text and how it looks."""

    text: str
    appearance: str = ""
    sources: list[str] = Field(default_factory=list, description="Keys of the observations it rests on.")


class VisibleTextSpan(BaseModel):
    """The visible text elements shown over one span."""

    span: TimeSpan
    elements: list[TextElement]


class SpeakerProfile(BaseModel):
    """A speaker and their profile (voice, accent, role)."""

    name: str
    profile: str = ""


class TranscriptSegment(BaseModel):
    """One speaker turn: who, how, what and when."""

    span: TimeSpan
    speaker: str
    state: str = ""
    content: str
    sources: list[str] = Field(default_factory=list, description="Keys of the observations it rests on.")


class CaptionSection(BaseModel):
    """A free ``## <title>`` section after the required ones."""

    title: str
    body: str


class Caption(BaseModel):
    """The structured caption, in the canonical format of the Omni-Captioner structured-description prompt.

    ``visible_text`` is ``None`` for audio clips (the section is absent) and ``[]`` for a video with no text
    (the section says so). ``transcript == []`` renders as an explicit "no speech" statement.
    """

    storyline: list[StorylineSegment] = Field(default_factory=list)
    visible_text: list[VisibleTextSpan] | None = None
    speakers: list[SpeakerProfile] = Field(default_factory=list)
    transcript: list[TranscriptSegment] = Field(default_factory=list)
    sections: list[CaptionSection] = Field(default_factory=list)
    no_text: str | None = Field(
        default=None, description="What an empty Visible Text section says (how text was, or was not, examined)."
    )
    no_speech: str | None = Field(
        default=None, description="What an empty transcript says (how speech was, or was not, examined)."
    )

    def without_sources(self) -> Caption:
        """A copy without the grounding of its items (what the Markdown carries): for round-trip comparisons."""
        data = self.model_dump()
        for seg in data["storyline"]:
            seg["sentences"] = []
        for group in data["visible_text"] or []:
            for element in group["elements"]:
                element["sources"] = []
        for turn in data["transcript"]:
            turn["sources"] = []
        return Caption.model_validate(data)


class Grounding(BaseModel):
    """How much of a caption rests on the evidence: names, numbers and quoted words found in an observation."""

    score: float = Field(ge=0.0, le=1.0, description="Share of the caption's claims found in an observation.")
    claims: int = 0
    grounded: int = 0
    ungrounded: list[str] = Field(default_factory=list, description="Claims no observation reports.")


# --- Results ---------------------------------------------------------------------------------------------


class ModelUsage(BaseModel):
    """Calls and tokens spent on one model."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_calls: int = 0
    failed_calls: int = Field(default=0, description="Requests (counted in calls) that got no usable reply.")

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


class Usage(BaseModel):
    """Spend of a run: LLM calls and tokens per model, observer calls per tool, wall time."""

    models: dict[str, ModelUsage] = Field(default_factory=dict)
    tool_calls: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0

    @property
    def llm_calls(self) -> int:
        """LLM calls made over all models (cache hits excluded)."""
        return sum(m.calls for m in self.models.values())

    @property
    def total_tokens(self) -> int:
        """Tokens over all models."""
        return sum(m.total_tokens for m in self.models.values())

    @property
    def observer_calls(self) -> int:
        """Observer runs over all tools."""
        return sum(self.tool_calls.values())

    def add_model(
        self, model: str, prompt_tokens: int, completion_tokens: int, cached: bool = False, failed: bool = False
    ) -> None:
        """Record one LLM request; ``failed`` for one that got no usable reply (timeout, error status)."""
        entry = self.models.setdefault(model, ModelUsage())
        if cached:
            entry.cached_calls += 1
            return
        entry.calls += 1
        entry.failed_calls += int(failed)
        entry.prompt_tokens += prompt_tokens
        entry.completion_tokens += completion_tokens

    def merge(self, other: Usage) -> Usage:
        """A new Usage holding both spends."""
        out = self.model_copy(deep=True)
        for name, mu in other.models.items():
            entry = out.models.setdefault(name, ModelUsage())
            entry.calls += mu.calls
            entry.prompt_tokens += mu.prompt_tokens
            entry.completion_tokens += mu.completion_tokens
            entry.cached_calls += mu.cached_calls
            entry.failed_calls += mu.failed_calls
        for tool, n in other.tool_calls.items():
            out.tool_calls[tool] = out.tool_calls.get(tool, 0) + n
        out.seconds = max(out.seconds, other.seconds)
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-ready dict including totals."""
        data = self.model_dump()
        data["llm_calls"] = self.llm_calls
        data["total_tokens"] = self.total_tokens
        data["observer_calls"] = self.observer_calls
        return data


class Provenance(BaseModel):
    """Where a result came from: versions, tools, models, endpoints and prompt hashes."""

    package_version: str
    tools: dict[str, str] = Field(default_factory=dict, description="Tool name to tool version.")
    planner: str = ""
    captioner: str = ""
    models: dict[str, str] = Field(default_factory=dict, description="Role to model id.")
    endpoints: dict[str, str] = Field(default_factory=dict, description="Role to endpoint host (no key).")
    prompt_hashes: dict[str, str] = Field(default_factory=dict)
    plugins: dict[str, str] = Field(default_factory=dict)


class RoundRecord(BaseModel):
    """What happened in one round: the plan, the queries run and how many observations came back."""

    round: int
    planned: list[Query] = Field(default_factory=list)
    ran: list[Query] = Field(default_factory=list)
    observations: int = 0
    failures: int = 0
    note: str = ""


class RunResult(BaseModel):
    """Everything a Detective run produced for one clip."""

    media: MediaInfo
    caption: Caption
    caption_markdown: str
    evidence: Evidence
    trajectory: list[dict[str, Any]] = Field(
        default_factory=list, description="OpenAI-format messages, upstream `omni_detective_trajectory`."
    )
    rounds: list[RoundRecord] = Field(default_factory=list)
    stop_reason: str = ""
    usage: Usage = Field(default_factory=Usage)
    provenance: Provenance
    notes: list[str] = Field(default_factory=list, description="Warnings a user should see (e.g. fallbacks).")
    grounding: Grounding | None = None
