"""What each kind of observation measured: one payload model per observation kind, and the ``Word`` of a transcript.

An observation's ``payload`` is the model of its kind (:data:`PAYLOADS`): observers fill the fields they measure,
and the board, the cross-check and the captioners read those fields, so what an observer measured keeps its type
from the observer to the caption (as faster-whisper's ``Word`` does). Every model allows extra keys, so a third
party's observer may report more than the fields below; they are kept, serialised and readable as attributes.

A payload is built from a plain dict too (``Observation(kind="speech", payload={"words": [...]})``), and it
serialises only the keys that were set (what the observer reported), so cached observations and output records
keep their shape. ``docs/plugins.md`` lists every model and field (``python docs/gen_payloads.py`` writes it).
"""

from __future__ import annotations

import warnings
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

__all__ = [
    "PAYLOADS",
    "ClassScore",
    "DescriptionPayload",
    "FacePayload",
    "ImageClass",
    "MetadataPayload",
    "NounGuess",
    "ObjectPayload",
    "Payload",
    "PeoplePayload",
    "ShotPayload",
    "SoundEventPayload",
    "SoundTagPayload",
    "SpeakerPayload",
    "SpeechPayload",
    "TextPayload",
    "Word",
    "payload_for",
]

Box = tuple[float, float, float, float]


class Word(BaseModel):
    """One transcribed word and when it was said (faster-whisper's ``Word``, its text stripped)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    word: str = Field(description="The word as transcribed, stripped (punctuation attached: `,000`, `'s`).")
    start: float = Field(description="Start, seconds from the clip's beginning.")
    end: float = Field(description="End, seconds from the clip's beginning.")
    probability: float | None = Field(default=None, description="The recogniser's probability of the word.")


class Payload(BaseModel):
    """What an observation measured beyond its content, span and confidence; the base of every kind's model.

    Serialises only the keys that were set, extra keys included.
    """

    model_config = ConfigDict(
        frozen=True, extra="allow", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    split_from: str | None = Field(
        default=None,
        description="Key of the board observation a captioner cut this piece from (a speaker's part of an ASR "
        "segment, a silence around a sound); set on the captioner's copies, never on the board.",
    )

    @model_serializer(mode="wrap")
    def _reported(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for name, field in type(self).model_fields.items():
            if name not in self.model_fields_set:
                data.pop(name, None)
                if field.alias:
                    data.pop(field.alias, None)
        return data

    def _field(self, key: str) -> str | None:
        for name, field in type(self).model_fields.items():
            if key in (name, field.alias):
                return name
        return None

    def _lookup(self, key: str) -> tuple[bool, Any]:
        warnings.warn(
            f"payload[{key!r}]: read payload fields as attributes (see detective.payloads)",
            DeprecationWarning,
            stacklevel=3,
        )
        name = self._field(key)
        if name is not None:
            return (name in self.model_fields_set, getattr(self, name))
        extra = self.__pydantic_extra__ or {}
        return (key in extra, extra.get(key))

    def __getitem__(self, key: str) -> Any:
        """A reported key by its JSON name, as the dict payloads of older plugins were read (deprecated)."""
        found, value = self._lookup(key)
        if not found:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """A reported key by its JSON name, or ``default`` (deprecated: read the attribute)."""
        found, value = self._lookup(key)
        return value if found else default

    def __contains__(self, key: str) -> bool:
        """True when ``key`` (a JSON name) was reported (deprecated: read the attribute)."""
        return self._lookup(key)[0]


class ShotPayload(Payload):
    """``shot``: a continuous camera shot (``shots``). The `template` captioner writes one storyline paragraph
    per shot and names the cuts; it needs a span."""

    index: int | None = Field(default=None, description="Position among the shots the run found, from 0.")
    cut_score: float | None = Field(default=None, description="The detector's score of the cut that opens it.")


class TextPayload(Payload):
    """``text``: on-screen text read in frames (``ocr``). The `template` captioner writes it in "Visible Text" and
    in the storyline at its time; it confirms or repairs names heard; it needs a span."""

    position: str | None = Field(default=None, description="Where in a 3×3 grid: `top-left` … `bottom-right`.")
    box: Box | None = Field(default=None, description="Bounding box `[x0, y0, x1, y1]`, fractions of the frame.")
    color: str | None = Field(default=None, description="Colour name of the letters.")
    background: str | None = Field(default=None, description="Colour name behind the letters.")
    height_frac: float | None = Field(default=None, description="Height of the line, a fraction of the frame's.")
    frames: int | None = Field(default=None, description="Sampled frames that showed it.")


class SpeechPayload(Payload):
    """``speech``: a transcribed speech segment (``asr``). The `template` captioner writes it in "Speakers and
    Transcript" and quotes it in the storyline, doubtful words marked; it needs a span."""

    words: list[Word] | None = Field(
        default=None, description="The words with their times and probabilities (None: no word list was reported)."
    )
    language: str | None = Field(default=None, description="ISO 639-1 code, only when a model named it surely.")
    language_probability: float | None = Field(default=None, description="Probability of the identification.")
    language_model: str | None = Field(default=None, description="The model that identified the language.")
    language_note: str | None = Field(default=None, description="Why the language was not identified.")
    transcribed: bool = Field(
        default=True, description="False for speech heard but not transcribed reliably (then no words)."
    )
    why: str | None = Field(default=None, description="Why speech was left untranscribed.")
    no_speech_prob: float | None = Field(default=None, description="The recogniser's probability of no speech.")
    avg_logprob: float | None = Field(default=None, description="Mean log-probability of the decoding.")
    compression_ratio: float | None = Field(default=None, description="Compression ratio of the decoded text.")
    model: str | None = Field(default=None, description="The model that transcribed it.")
    speaker: str | None = Field(default=None, description="Voice label (`S1` …) once attributed to a speaker.")
    unconfirmed: bool = Field(
        default=False, description="Set by the board: a re-check heard it where the first pass heard no words."
    )
    confirmed_by: list[str] = Field(default_factory=list, description="Keys of re-checks that heard the same.")
    corrected_by: list[str] = Field(default_factory=list, description="Keys of re-checks that replaced words.")


class SoundEventPayload(Payload):
    """``sound_event``: a labelled span of the audio signal (``audio_events``). The `template` captioner writes
    sounds, music and silence in the storyline at their time (silence only under coverage); it needs a span."""

    label: str | None = Field(
        default=None,
        description="`silence`, `background`, `tone`, `broadband noise`, `speech-like`, `music-like`, `sound` "
        "(a third party's own label otherwise).",
    )
    loudness_db: float | None = Field(default=None, description="RMS level over the span, dBFS.")
    peak_db: float | None = Field(default=None, description="Peak level over the span, dBFS.")
    pace: str | None = Field(default=None, description="`slow`, `moderate` or `fast` (speech-like sound).")
    syllable_rate: float | None = Field(default=None, description="Syllables per second (speech-like sound).")
    pitch_hz: float | None = Field(default=None, description="Median voice pitch (speech-like sound).")
    notes: int | None = Field(default=None, description="Distinct steady pitches held (music-like sound).")
    noise_floor_db: float | None = Field(default=None, description="Level of a steady background, dBFS.")
    frequency_hz: float | None = Field(default=None, description="Frequency of a tone.")


class SpeakerPayload(Payload):
    """``speaker``: one speaker's turn (``speakers``, voice separation). The `template` captioner attributes the
    speech it overlaps to the voice and profiles the voice in "Speakers"."""

    speaker: str | None = Field(default=None, description="Voice label: `S1`, `S2` …")
    pitch_hz: float | None = Field(default=None, description="Median pitch of the voice in the turn.")
    loudness_db: float | None = Field(default=None, description="Level of the turn, dBFS.")


class DescriptionPayload(Payload):
    """``description``: a free answer of an LLM observer (``audio_llm``, ``vision_llm``). The `template`
    captioner writes it in the storyline paragraph of its span (with no span, in the first paragraph); the `llm`
    captioner weighs it against the measured kinds."""

    model: str | None = Field(default=None, description="The model that answered.")
    question: str | None = Field(default=None, description="The question it answered.")
    modality: str | None = Field(
        default=None, description="`audio` or `video`: what the model heard or saw (default: the tool's name)."
    )
    frame_times: list[float] = Field(default_factory=list, description="Times of the frames shown to the model.")
    chunk: int | None = Field(default=None, description="Which piece of the audio it heard, from 0.")
    chunks: int | None = Field(default=None, description="How many pieces the audio was cut into.")


class MetadataPayload(Payload):
    """``metadata``: facts about the clip or its streams. The `template` captioner writes the clip's loudness,
    silence and speech shares; the voice count is checked against claims; other metadata is not written."""

    loudness_db: float | None = Field(default=None, description="The clip's loudness (RMS), dBFS.")
    speech_ratio: float | None = Field(default=None, description="Share of the time that is speech-like, 0..1.")
    silence_ratio: float | None = Field(default=None, description="Share of the time that is silent, 0..1.")
    noise_floor_db: float | None = Field(default=None, description="The clip's noise floor, dBFS.")
    num_speakers: int | None = Field(default=None, description="Voices told apart by voice separation.")
    speaker_shares: dict[str, float] = Field(default_factory=dict, description="Each voice's share of the speech.")


class ImageClass(BaseModel):
    """An ImageNet class behind a noun and its probability."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_by_name=True, serialize_by_alias=True)

    name: str = Field(alias="class", description="The image class.")
    p: float = Field(description="Its probability.")


class NounGuess(BaseModel):
    """A runner-up noun and its score."""

    model_config = ConfigDict(frozen=True, extra="allow")

    noun: str = Field(description="The noun.")
    p: float = Field(description="Its score.")


class ObjectPayload(Payload):
    """``object``: what a shot appears to show, as a plain noun (``scene``, an image classifier). The `template`
    captioner writes it in the shot's paragraph ("appears to show" when sure, "may show" otherwise)."""

    noun: str | None = Field(default=None, description="The plain noun (also the content).")
    classes: list[ImageClass] = Field(default_factory=list, description="The image classes behind the noun.")
    runner_up: list[NounGuess] = Field(default_factory=list, description="The next nouns, best first.")
    frames: int | None = Field(default=None, description="Frames classified.")
    model: str | None = Field(default=None, description="The classifier.")


class FacePayload(Payload):
    """``face``: faces visible in a shot, how many and where (``scene``, a face detector). The `template`
    captioner writes "one person is visible …" in the shot's paragraph."""

    count: int = Field(default=1, description="Faces seen in most frames that showed any.")
    positions: list[str] = Field(default_factory=list, description="Where each face is, in a 3×3 grid.")
    boxes: list[Box] = Field(default_factory=list, description="Each face's box, fractions of the frame.")
    scores: list[float] = Field(default_factory=list, description="Each face's detection score.")
    frame_time: float | None = Field(default=None, description="Time of the frame the boxes are from.")
    frames_with_faces: int | None = Field(default=None, description="Frames that showed a face.")
    frames: int | None = Field(default=None, description="Frames examined.")
    model: str | None = Field(default=None, description="The face detector.")


class PeoplePayload(Payload):
    """``people``: whole figures visible in a shot, how many, where and when (``scene``, a people detector). The
    `template` captioner writes "people are visible (up to N at once …)" with the sampled times that showed them."""

    count: int = Field(default=1, description="The most people found in one sampled frame.")
    positions: list[str] = Field(default_factory=list, description="Where each is in that frame, in a 3×3 grid.")
    boxes: list[Box] = Field(default_factory=list, description="Each person's box, fractions of the frame.")
    scores: list[float] = Field(default_factory=list, description="Each person's detector score (SVM margin).")
    frame_time: float | None = Field(default=None, description="Time of the frame the boxes are from.")
    frame_times: list[float] = Field(default_factory=list, description="Times of the sampled frames showing people.")
    frames_with_people: int | None = Field(default=None, description="Sampled frames that showed people.")
    frames: int | None = Field(default=None, description="Frames examined.")
    model: str | None = Field(default=None, description="The people detector.")


class ClassScore(BaseModel):
    """An audio class and its mean score over a run of windows."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_by_name=True, serialize_by_alias=True)

    name: str = Field(alias="class", description="The AudioSet class.")
    mean: float = Field(description="Its mean score over the run.")


class SoundTagPayload(Payload):
    """``sound_tag``: a named class of sound over a span (``audio_tags``, an audio classifier: siren, music, dog
    …). The `template` captioner names the sound in the storyline at its time; "Silence" is left to measurement."""

    sound_class: str | None = Field(default=None, alias="class", description="The AudioSet class most often top.")
    phrase: str | None = Field(default=None, description="The plain phrase for it (`a siren`).")
    classes: list[ClassScore] = Field(default_factory=list, description="The top classes over the run.")
    windows: int | None = Field(default=None, description="Classified windows in the run.")
    model: str | None = Field(default=None, description="The classifier.")


#: The payload model of each observation kind.
PAYLOADS: dict[str, type[Payload]] = {
    "shot": ShotPayload,
    "text": TextPayload,
    "speech": SpeechPayload,
    "sound_event": SoundEventPayload,
    "speaker": SpeakerPayload,
    "description": DescriptionPayload,
    "metadata": MetadataPayload,
    "object": ObjectPayload,
    "face": FacePayload,
    "people": PeoplePayload,
    "sound_tag": SoundTagPayload,
}


def payload_for(kind: str, value: Payload | dict[str, Any] | None) -> Payload:
    """``value`` as the payload model of ``kind``: a dict is validated, another kind's model is converted."""
    model = PAYLOADS.get(kind, Payload)
    if isinstance(value, model):
        return value
    if isinstance(value, Payload):
        value = value.model_dump(exclude_unset=True)
    return model.model_validate(value or {})
