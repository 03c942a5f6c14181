"""Shot detection with PySceneDetect's ``ContentDetector`` (HSV frame differences, decoded with PyAV).

``ContentDetector`` is the default because ``AdaptiveDetector`` and ``HashDetector`` report false cuts when a
text overlay appears or leaves (DESIGN.md). A clip without cuts is one shot.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from detective.media import MediaError, probe
from detective.models import MediaInfo, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool, ToolError

DEFAULT_THRESHOLD = 27.0
#: Shortest shot reported, in seconds; PySceneDetect's own default is 15 frames.
MIN_SHOT_SECONDS = 0.5


class ShotsInput(SpanInput):
    """Arguments of the ``shots`` tool."""

    threshold: float = Field(
        default=DEFAULT_THRESHOLD,
        ge=1.0,
        le=100.0,
        description="ContentDetector threshold: lower finds more (and softer) cuts; 27 suits most footage.",
    )


@dataclass(frozen=True)
class Shot:
    """One detected shot: its span and the content score of the cut that opened it (None for the first)."""

    start: float
    end: float
    cut_score: float | None


@functools.cache
def _scoring_detector() -> type:
    """``ContentDetector`` keeping the score of each frame at or above its threshold (the cut candidates).

    The cut scores once came from a ``StatsManager``, which makes the detector compute an edge map of every frame
    for a component the default weights ignore: about 30% of its CPU. Only candidate frames are kept, so memory
    stays flat however long the video. With the default weights (no edges) the score is computed on the whole HSV
    image at once, the same value as the parent's channel-by-channel NumPy arithmetic at a third of the CPU.
    """
    import cv2
    from scenedetect import ContentDetector

    class ScoringContentDetector(ContentDetector):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.cut_scores: dict[int, float] = {}

        def _calculate_frame_score(self, timecode: Any, frame_img: Any) -> float:
            if self._weights.delta_edges > 0.0 or self.stats_manager is not None:
                score = super()._calculate_frame_score(timecode, frame_img)
            else:
                score = self._colour_score(frame_img)
            if score >= self._threshold:
                self.cut_scores[timecode.frame_num] = score
            return score

        def _colour_score(self, frame_img: Any) -> float:
            """The parent's score without edges, in three OpenCV calls: the mean absolute difference of each HSV
            channel from the last frame's (sums of exact integers, then the parent's arithmetic: the same values)."""
            hsv = cv2.cvtColor(frame_img, cv2.COLOR_BGR2HSV)
            last, self._last_hsv = getattr(self, "_last_hsv", None), hsv
            if last is None or last.shape != hsv.shape:
                return 0.0
            pixels = float(hsv.shape[0] * hsv.shape[1])
            hue, sat, lum, _ = (total / pixels for total in cv2.sumElems(cv2.absdiff(hsv, last)))
            weights = self._weights
            parts = (hue * weights.delta_hue, sat * weights.delta_sat, lum * weights.delta_lum, 0.0)
            return float(sum(parts) / sum(abs(w) for w in weights))

    return ScoringContentDetector


@functools.cache
def _scaled_stream() -> type:
    """PyAV ``VideoStream`` whose frames come out already at the detector's working size.

    PySceneDetect converts every frame to BGR at full size and then shrinks it (to about 256 pixels wide) with
    OpenCV; the full-size colour conversion alone cost more CPU than decoding. Here FFmpeg's scaler converts and
    shrinks in one pass, so the frames the detector sees are the same size as before.
    """
    from av.video.reformatter import VideoReformatter
    from scenedetect.backends.pyav import VideoStreamAv
    from scenedetect.scene_manager import compute_downscale_factor

    class ScaledVideoStreamAv(VideoStreamAv):
        def __init__(self, path: str) -> None:
            super().__init__(path)
            width, height = super().frame_size
            factor = compute_downscale_factor(max(width, 1))
            self._scaled = (max(1, round(width / factor)), max(1, round(height / factor)))
            self._reformatter = VideoReformatter()  # one scaler context for the whole clip

        @property
        def frame_size(self) -> tuple[int, int]:
            return self._scaled

        def read(self, decode: bool = True) -> Any:
            got = super().read(decode=False)
            if got is False or not decode:
                return got
            width, height = self._scaled
            small = self._reformatter.reformat(
                self._frame, width=width, height=height, format="bgr24", interpolation="AREA"
            )
            return small.to_ndarray()

    return ScaledVideoStreamAv


def detect_shots(
    path: str,
    start: float = 0.0,
    end: float | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Shot]:
    """Shots of the video at ``path`` between ``start`` and ``end`` seconds (whole clip by default)."""
    from scenedetect import SceneManager

    info = probe(path)
    if not info.has_video:
        raise MediaError(f"{path}: has no video stream")
    stop = info.duration if end is None else min(end, info.duration)
    if stop <= start:
        return []
    try:
        video = _scaled_stream()(path)
    except Exception as exc:  # PySceneDetect wraps PyAV's open errors in its own types
        raise MediaError(f"{path}: could not open the video: {exc}") from exc
    fps = float(video.frame_rate)
    detector = _scoring_detector()(threshold=threshold, min_scene_len=max(1, round(MIN_SHOT_SECONDS * fps)))
    manager = SceneManager()
    manager.auto_downscale = False  # the stream already delivers frames at the working size
    manager.add_detector(detector)
    if start > 0:
        video.seek(start)
    manager.detect_scenes(video, end_time=stop)
    scenes = manager.get_scene_list(start_in_scene=True)
    shots: list[Shot] = []
    for index, (begin, finish) in enumerate(scenes):
        score = None
        if index > 0 and begin.frame_num in detector.cut_scores:
            score = round(float(detector.cut_scores[begin.frame_num]), 3)
        shots.append(Shot(start=float(begin.seconds), end=float(finish.seconds), cut_score=score))
    if not shots:
        return [Shot(start=start, end=stop, cut_score=None)]
    # the detector works in whole frames; the requested span's edges are the true edges
    shots[0] = Shot(start=start, end=shots[0].end, cut_score=None)
    shots[-1] = Shot(start=shots[-1].start, end=stop, cut_score=shots[-1].cut_score)
    return shots


class ShotsTool(Tool):
    """Report the clip's camera shots: hard cuts found by content change between frames."""

    name = "shots"
    description = (
        "Find the video's shots (hard cuts between camera shots) and report each shot's time span. "
        "Use it first to learn the clip's structure; optional start/end limit the search."
    )
    input_model = ShotsInput
    modalities = ("video",)
    version = "0.3.0+scenedetect-0.7.2"
    #: CPU s per clip s of a broad pass (benchmarks/observers.py, one thread); the costliest start first.
    cost = 0.025
    covers = ("shots",)

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Detect the shots in the query's span (arguments ``start``/``end`` win over ``query.span``)."""
        if not media.has_video:
            raise ToolError(f"shots: {media.source} has no video stream, so it has no shots")
        args = ShotsInput.model_validate(query.arguments)
        start = args.start if args.start is not None else (query.span.start if query.span else 0.0)
        end = args.end if args.end is not None else (query.span.end if query.span else None)
        try:
            shots = detect_shots(media.path or media.source, max(0.0, start), end, args.threshold)
        except MediaError as exc:
            raise ToolError(f"shots: {exc}") from exc
        return [
            Observation(
                tool=self.name,
                kind="shot",
                content=f"shot {i + 1}",
                span=TimeSpan(start=round(shot.start, 3), end=round(max(shot.start, shot.end), 3)),
                confidence=_confidence(shot.cut_score, args.threshold),
                payload={"index": i, "cut_score": shot.cut_score},
                query_key=query.key,
            )
            for i, shot in enumerate(shots)
        ]


def _confidence(score: float | None, threshold: float) -> float | None:
    """How clearly the opening cut cleared the threshold: 0.5 just over it, 1.0 at twice it or more."""
    if score is None:
        return None
    return round(min(1.0, max(0.5, score / (2.0 * threshold))), 3)
