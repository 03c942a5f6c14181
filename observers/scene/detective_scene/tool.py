"""The ``scene`` tool: what each shot appears to show (an ImageNet classifier), the faces and the people in it."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, Field

from detective import media as dmedia
from detective.loaded import load_once
from detective.models import Aspect, Coverage, Evidence, MediaInfo, Modality, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool, ToolError
from detective_scene.engine import Face, SceneEngine, texture
from detective_scene.nouns import Grouping, build_grouping
from detective_scene.people import Person

#: A shot's noun is claimed from this (mean, grouped) probability on. Measured on the fixtures: the coffee
#: photograph 0.96, the cat 0.89; the most confident synthetic frame (a chessboard: "crossword puzzle", never
#: claimed anyway) 0.68, the next (a fractal: "hair slide") 0.52, title cards and colour bars below 0.25.
MIN_CONFIDENCE = 0.6
#: Frames less textured than this are plain pictures (cards, bars, test patterns): no object claim from them.
MIN_TEXTURE = 0.3
#: A person is claimed from this HOG margin on. On the real-footage corpus (tests/fixtures/make_real_footage.py,
#: frames of 448 pixels enlarged 1.6x, pyramid step 1.2) the pedestrians' best windows score 1.06 to 3.0 in 11 of
#: 20 sampled frames, and no shot without people has any detection; at a pyramid step of 1.1 a rocket on its pad
#: scored 0.82, the highest false window seen.
PEOPLE_MIN_SCORE = 1.0
#: A shot's people are claimed when this many sampled frames show them (a still picture: its one frame).
PEOPLE_MIN_FRAMES = 2
#: The people detector looks at a shot's sampled frames at most this often (seconds; it costs 70-105 ms a frame,
#: twice the classifier and face detectors together). Stills reuse its answer.
PEOPLE_EVERY = 2.0
#: Frames are decoded at most this size (the classifier looks at 224 pixels, the face detector at 128).
MAX_SIDE = 448


class SceneInput(SpanInput):
    """Arguments of the ``scene`` tool."""

    shots: list[tuple[float, float]] | None = Field(
        default=None, description="Shot spans [[start, end], ...] in seconds; one report per shot."
    )
    every: float = Field(
        default=1.0, gt=0.0, description="Seconds between sampled frames inside a shot (a short shot: its middle)."
    )


@dataclass
class _Look:
    """What the models saw in one shot's sampled frames."""

    probs_sum: np.ndarray | None = None
    textured: int = 0
    plain: int = 0
    sightings: list[tuple[float, list[Face]]] = field(default_factory=list)
    #: ``(time, people, same picture as the frame before)`` of every sampled frame
    crowds: list[tuple[float, list[Person], bool]] = field(default_factory=list)

    def add(
        self,
        t: float,
        probs: np.ndarray | None,
        faces: list[Face],
        people: list[Person] | None = None,
        still: bool = False,
    ) -> None:
        """Count one sampled frame: its class probabilities (``None`` for a plain picture), faces and people
        (``still``: the same picture as the frame sampled before it)."""
        if probs is None:
            self.plain += 1
        else:
            self.probs_sum = probs.astype(np.float64) if self.probs_sum is None else self.probs_sum + probs
            self.textured += 1
        self.sightings.append((t, faces))
        if people is not None:
            self.crowds.append((t, list(people), still))


def sample_times(span: TimeSpan, every: float) -> list[float]:
    """Evenly spread instants inside ``span``: one per ``every`` seconds, at least the middle one."""
    count = max(1, math.floor(span.duration / every + 1e-9))
    step = span.duration / count
    return [round(span.start + (k + 0.5) * step, 3) for k in range(count)]


def grid_position(box: tuple[float, float, float, float]) -> str:
    """The 3x3 grid cell of a normalised box's centre: ``top-left`` … ``center`` … ``bottom-right``."""
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    row = ("top", "", "bottom")[min(2, int(cy * 3))]
    col = ("left", "", "right")[min(2, int(cx * 3))]
    return f"{row}-{col}" if row and col else (row or col or "center")


class SceneTool(Tool):
    """Says what each shot appears to show and how many faces are in it, from sampled frames.

    Each shot is sampled at its middle, or once per ``every`` seconds when it is longer. Per shot: the mean
    ImageNet probabilities of its textured frames, folded into plain nouns (:mod:`detective_scene.nouns`), give at
    most one ``object`` observation, only from :data:`MIN_CONFIDENCE` on; faces found in its frames give one
    ``face`` observation with their count and places; whole figures found by the HOG people detector in
    :data:`PEOPLE_MIN_FRAMES` of its frames give one ``people`` observation (how many at most in one frame, where,
    at which sampled times). Plain pictures (title cards, bars) get no claim.
    """

    name: ClassVar[str] = "scene"
    description: ClassVar[str] = (
        "Look at the frames of each shot: what the picture appears to show (an ImageNet image classifier folded "
        "into plain nouns such as 'a cat' or 'a cup of coffee', only when it is sure) and how many faces are "
        "visible and where, and how many people (whole figures) are visible. Arguments: optional start/end span, "
        "optional list of shot spans `shots`, sampling interval `every` inside long shots (default 1 s)."
    )
    input_model: ClassVar[type[BaseModel]] = SceneInput
    modalities: ClassVar[tuple[Modality, ...]] = ("video",)
    version: ClassVar[str] = "0.3.0"
    #: CPU s per clip s of a broad pass (benchmarks/observers.py, one thread); the costliest start first.
    cost: ClassVar[float] = 0.043  # the loop: 0.020 before the people detector, 0.026 with it (same machine, loaded)
    #: Runs after the first pass, so it can look at the shots found there.
    stage: ClassVar[int] = 1
    needs: ClassVar[tuple[Aspect, ...]] = ("shots",)
    #: A run that names nothing has still looked: the caption may say nothing could be named there.
    covers: ClassVar[tuple[Aspect, ...]] = ("objects", "faces", "people")

    def __init__(self, *, model_dir: str | None = None, threads: int = 0, min_confidence: float = MIN_CONFIDENCE):
        self.model_dir = model_dir
        self.threads = threads
        self.min_confidence = min_confidence
        self._grouping: Grouping | None = None
        self._engine: SceneEngine | None = None

    def setup(self) -> None:
        """Load the classifier and the face detectors (once per process for each model folder and thread count)."""
        model_dir, threads = self.model_dir, self.threads
        self._engine = load_once(("scene", model_dir, threads), lambda: SceneEngine(model_dir, threads).load())

    def broad_queries(self, media: MediaInfo, evidence: Evidence) -> list[Query]:
        """One query over the shots already on the board (the whole clip as one piece when there are none)."""
        shots = sorted(
            {(round(s.span.start, 3), round(s.span.end, 3)) for s in evidence.by_kind("shot") if s.span is not None}
        )
        return [Query(tool=self.name, arguments={"shots": [list(s) for s in shots]} if shots else {})]

    def recheck_queries(self, media: MediaInfo, evidence: Evidence, span: TimeSpan, claims: list[str]) -> list[Query]:
        """Look again at twice the rate over the doubtful span."""
        return [Query(tool=self.name, span=span, arguments={"every": 0.5})]

    def coverage(self, media: MediaInfo, query: Query, observations: list[Observation]) -> Coverage:
        """The span looked at, and how: the models and the sampling interval inside each shot."""
        base = super().coverage(media, query, observations)
        every = SceneInput.model_validate(query.arguments).every
        detail = (
            f"an image classifier and two face detectors on a frame every {every:g} s of each shot, "
            f"a pedestrian detector every {max(every, PEOPLE_EVERY):g} s"
        )
        return base.model_copy(update={"detail": detail})

    def engine(self) -> SceneEngine:
        """The loaded models (set up first when they are not yet)."""
        engine = self.ready()._engine
        assert engine is not None
        return engine

    def grouping(self) -> Grouping:
        """The classifier's classes folded into plain nouns (built once)."""
        if self._grouping is None:
            self._grouping = build_grouping(self.engine().labels)
        return self._grouping

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """An ``object`` and a ``face`` observation (each when found) for every shot of the query."""
        if not media.has_video:
            raise ToolError(f"scene: {media.source} has no video stream; there is no picture to look at")
        args = SceneInput.model_validate(query.arguments)
        span = self.span_of(media, query, args)
        shots = [
            TimeSpan(start=max(span.start, a), end=min(span.end, b))
            for a, b in (args.shots or [(span.start, span.end)])
            if min(span.end, b) > max(span.start, a)
        ] or [span]
        engine = self.engine()
        path = media.path or media.source
        looks = [_Look() for _ in shots]
        plan = sorted((t, i) for i, shot in enumerate(shots) for t in sample_times(shot, args.every))
        previous: tuple[np.ndarray, np.ndarray | None, list[Face], list[Person] | None] | None = None
        people_every = max(args.every, PEOPLE_EVERY)
        looked_for_people: dict[int, float] = {}  # shot index -> last time the people detector ran there
        try:
            # All shots' instants in one time-ordered pass of one decoder, a frame held at a time (memory stays flat).
            frames = dmedia.iter_frames_at(path, [t for t, _ in plan], max_side=MAX_SIDE)
            for (_, index), (t, frame) in zip(plan, frames, strict=True):
                thumb = _thumbnail(frame)
                still = previous is not None and _same_picture(previous[0], thumb)
                if previous is not None and still:
                    probs, faces, people = previous[1], previous[2], previous[3]  # the models would say the same
                else:
                    textured = texture(frame) >= MIN_TEXTURE
                    probs = engine.classify(frame) if textured else None
                    faces = engine.faces(frame)
                    due = t - looked_for_people.get(index, -math.inf) >= people_every - 1e-6
                    people = (engine.people(frame) if textured else []) if due else None
                    if due:
                        looked_for_people[index] = t
                previous = (thumb, probs, faces, people)
                looks[index].add(t, probs, faces, people, still)
        except dmedia.MediaError as exc:
            raise ToolError(f"scene: could not decode frames of {media.source}: {exc}") from exc
        observations: list[Observation] = []
        for shot, look in zip(shots, looks, strict=True):
            # A shot that is mostly plain picture makes no object claim, whatever its few textured frames say.
            if look.probs_sum is not None and look.textured >= look.plain:
                obs = self._object(look.probs_sum / look.textured, shot, look.textured, query)
                if obs is not None:
                    observations.append(obs)
            faces_obs = self._faces(look.sightings, shot, args.every, query)
            if faces_obs is not None:
                observations.append(faces_obs)
            people_obs = self._people(look.crowds, shot, people_every, query)
            if people_obs is not None:
                observations.append(people_obs)
        return observations

    def _people(
        self, crowds: list[tuple[float, list[Person], bool]], shot: TimeSpan, every: float, query: Query
    ) -> Observation | None:
        """One ``people`` observation when :data:`PEOPLE_MIN_FRAMES` sampled frames show people (every distinct
        picture of a still shot, when it has fewer), else ``None``."""
        seen = [(t, [p for p in people if p.score >= PEOPLE_MIN_SCORE]) for t, people, _ in crowds]
        seen = [(t, people) for t, people in seen if people]
        pictures = sum(1 for _, _, still in crowds if not still)
        if not seen or len(seen) < min(PEOPLE_MIN_FRAMES, pictures):
            return None
        count = max(len(people) for _, people in seen)
        best_t, best = max(
            ((t, people) for t, people in seen if len(people) == count), key=lambda item: item[1][0].score
        )
        best = sorted(best, key=lambda p: p.box[0])
        start = max(shot.start, seen[0][0] - every / 2) if len(crowds) > 1 else shot.start
        end = min(shot.end, seen[-1][0] + every / 2) if len(crowds) > 1 else shot.end
        share = len(seen) / len(crowds)
        noun = "a person" if count == 1 else f"{count} people"
        return Observation(
            tool=self.name,
            kind="people",
            content=f"{noun} ({', '.join(grid_position(p.box) for p in best)})",
            span=TimeSpan(start=round(start, 3), end=round(max(start, end), 3)),
            # how steadily the detector sees them: half for one frame in many, near 1 when every frame shows them
            confidence=round(min(0.99, 0.5 + 0.5 * share), 4),
            payload={
                "count": count,
                "positions": [grid_position(p.box) for p in best],
                "boxes": [list(p.box) for p in best],
                "scores": [round(p.score, 3) for p in best],
                "frame_time": best_t,
                "frame_times": [t for t, _ in seen],
                "frames_with_people": len(seen),
                "frames": len(crowds),
                "model": "HOG pedestrian detector (OpenCV's default people SVM)",
            },
            query_key=query.key,
        )

    def _object(self, probs: np.ndarray, shot: TimeSpan, frames: int, query: Query) -> Observation | None:
        grouping = self.grouping()
        scores = grouping.scores(probs)
        if not scores:
            return None
        noun, score = next(iter(scores.items()))
        if score < self.min_confidence:
            return None
        return Observation(
            tool=self.name,
            kind="object",
            content=noun,
            span=shot,
            confidence=round(min(1.0, score), 4),
            payload={
                "noun": noun,
                "classes": grouping.members(noun, probs),
                "runner_up": [{"noun": n, "p": round(p, 4)} for n, p in list(scores.items())[1:3]],
                "frames": frames,
                "model": "EfficientNet-Lite0 (ImageNet-1k)",
            },
            query_key=query.key,
        )

    def _faces(
        self, sightings: list[tuple[float, list[Face]]], shot: TimeSpan, every: float, query: Query
    ) -> Observation | None:
        seen = [(t, faces) for t, faces in sightings if faces]
        if not seen:
            return None
        count = Counter(len(faces) for _, faces in seen).most_common(1)[0][0]
        best_t, best = max((item for item in seen if len(item[1]) == count), key=lambda item: item[1][0].score)
        best = sorted(best, key=lambda f: f.box[0])
        confidence = float(np.mean([max(f.score for f in faces) for _, faces in seen]))
        start = max(shot.start, seen[0][0] - every / 2) if len(sightings) > 1 else shot.start
        end = min(shot.end, seen[-1][0] + every / 2) if len(sightings) > 1 else shot.end
        places = [grid_position(f.box) for f in best]
        word = "face" if count == 1 else "faces"
        return Observation(
            tool=self.name,
            kind="face",
            content=f"{count} {word} ({', '.join(places)})",
            span=TimeSpan(start=round(start, 3), end=round(max(start, end), 3)),
            confidence=round(min(1.0, confidence), 4),
            payload={
                "count": count,
                "positions": places,
                "boxes": [list(f.box) for f in best],
                "scores": [round(f.score, 4) for f in best],
                "frame_time": best_t,
                "frames_with_faces": len(seen),
                "frames": len(sightings),
                "model": "BlazeFace short-range",
            },
            query_key=query.key,
        )


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """An 8x area-downscaled grey image: compression noise averages out, a moved subject does not."""
    import cv2

    height, width = frame.shape[:2]
    small = cv2.resize(frame, (max(1, width // 8), max(1, height // 8)), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32).mean(axis=2)


def _same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and float(np.abs(a - b).max()) <= 8.0
