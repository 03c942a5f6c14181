"""The ``ocr`` tool: on-screen text tracks with start/end, position, colours and size."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, Field, model_validator

from detective import media as dmedia
from detective.loaded import load_once
from detective.models import Aspect, Coverage, Evidence, MediaInfo, Modality, Observation, Query, TimeSpan
from detective.tools import SpanInput, Tool, ToolError
from detective_ocr.appearance import grid_position, text_appearance
from detective_ocr.engine import EngineConfig, OCREngine, TextLine, model_paths
from detective_ocr.tracks import MIN_SCORE, Sighting, Track, build_tracks, is_junk

Frame = tuple[float, np.ndarray]

#: Longest side of the text detector's input. Frames are decoded up to ``max_side`` (960) and lines are recognised
#: from those pixels; the detector only has to find the lines, and its cost grows with its input's area (0.11
#: against 0.05 CPU s per frame at 640 and 480). At 480 it still finds 12-pixel lettering of a 640x360 frame.
DET_SIDE = 640
#: Grey levels (0..255) a 4x4-pixel cell of the thumbnail may move by and still count as unchanged: compression
#: noise stays under it, a changed character does not.
SAME_PICTURE_DIFF = 12.0
#: A change whose band covers more than this share of the frame is read whole (a cut, camera motion).
PARTIAL_READ_MAX_AREA = 0.5
#: Rows of context kept above and below a changed band (at least; 10% of the frame height when that is more). With
#: less, the detector draws tighter boxes around a caption plate than it does on the whole frame.
PARTIAL_READ_MARGIN = 32


class OCRInput(SpanInput):
    """Arguments of the ``ocr`` tool."""

    times: list[float] | None = Field(
        default=None, description="Extra instants to read, in seconds (e.g. shot keyframes)."
    )
    every: float = Field(
        default=1.0, ge=0.0, description="Seconds between sampled frames; 0 reads only the given times."
    )

    @model_validator(mode="after")
    def _something_to_read(self) -> OCRInput:
        """``every`` 0 reads only ``times``: without them there is nothing to read (said before the query runs)."""
        if self.every <= 0 and not self.times:
            raise ValueError("`every` is 0 and no `times` were given: nothing to read (give every > 0 or times)")
        return self


class OCRTool(Tool):
    """Reads on-screen text in sampled frames and links identical lines over time into tracks.

    Frames are the query's ``times`` plus one frame every ``every`` seconds over the span, downscaled to
    ``max_side``; the text detector looks at them at most ``det_side`` pixels wide. A frame identical to the
    previous sample (cheap thumbnail diff) reuses its result; a frame where only a band changed (a caption
    appears on a still picture) is read only in that band, and the previous lines outside it are kept. Lines
    scoring below 0.8 or with fewer than two letters/digits are dropped.
    """

    name: ClassVar[str] = "ocr"
    description: ClassVar[str] = (
        "Read on-screen text (captions, titles, signs, tickers) with the time span each line is visible, "
        "where it is on screen and its colours. Arguments: optional start/end span, optional list of times "
        "(e.g. shot keyframes), sampling interval `every` in seconds (default 1)."
    )
    input_model: ClassVar[type[BaseModel]] = OCRInput
    modalities: ClassVar[tuple[Modality, ...]] = ("video",)
    version: ClassVar[str] = "0.3.0"
    #: CPU s per clip s of a broad pass (benchmarks/observers.py, one thread); the costliest start first.
    cost: ClassVar[float] = 0.06
    #: Runs after the first pass, so shot keyframes from the evidence can be read.
    stage: ClassVar[int] = 1
    needs: ClassVar[tuple[Aspect, ...]] = ("shots",)
    covers: ClassVar[tuple[Aspect, ...]] = ("text",)

    def __init__(
        self,
        *,
        max_side: int = 960,
        det_side: int = DET_SIDE,
        model_dir: str | None = None,
        threads: int = 0,
        use_cls: bool = False,
        max_gap: int = 1,
    ) -> None:
        self.max_side = max_side
        self.max_gap = max_gap
        self.engine_config = EngineConfig(
            model_dir=model_dir, threads=threads, det_side=min(det_side, max_side), use_cls=use_cls
        )
        #: The loaded engine (:meth:`setup`), shared by every OCR tool of the process with the same configuration.
        self.engine: OCREngine | None = None

    def setup(self) -> None:
        """Load the PP-OCR engine for :attr:`engine_config` (once per process for each configuration)."""
        config = self.engine_config
        self.engine = load_once(("ocr", config), lambda: OCREngine(config))

    def check(self) -> str:
        """The PP-OCR model files (from the rapidocr wheel, or ``model_dir``) are present."""
        paths = model_paths(self.engine_config)
        return "PP-OCR models present: " + ", ".join(p.name for k, p in paths.items() if k != "cls" or p.is_file())

    def broad_queries(self, media: MediaInfo, evidence: Evidence) -> list[Query]:
        """One pass over the clip at the default rate, plus the middle frame of every shot already found."""
        keyframes = sorted({round((s.span.start + s.span.end) / 2, 3) for s in evidence.by_kind("shot") if s.span})
        return [Query(tool=self.name, arguments={"times": keyframes} if keyframes else {})]

    def coverage(self, media: MediaInfo, query: Query, observations: list[Observation]) -> Coverage:
        """The span read, and how densely: ``OCR at 1 frame/s`` (plus the shot keyframes read)."""
        found = super().coverage(media, query, observations)
        args = OCRInput.model_validate(query.arguments)
        parts = [f"OCR at {1 / args.every:g} frame/s"] if args.every > 0 else ["OCR"]
        if args.times:
            n = len(args.times)
            parts.append(f"{'plus' if args.every > 0 else 'on'} {n} shot keyframe{'s' if n != 1 else ''}")
        return found.model_copy(update={"detail": " ".join(parts)})

    def recheck_queries(self, media: MediaInfo, evidence: Evidence, span: TimeSpan, claims: list[str]) -> list[Query]:
        """Read a doubtful span again at four frames a second."""
        return [Query(tool=self.name, span=span, arguments={"every": 0.25})]

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        """Text tracks over the query's span (the whole clip when none)."""
        if not media.has_video:
            raise ToolError(f"ocr: {media.source} has no video stream; OCR does not apply")
        args = OCRInput.model_validate(query.arguments)
        span = self.span_of(media, query, args)
        every = args.every
        times = sorted({round(t, 3) for t in (args.times or []) if span.start <= t <= span.end})
        if every <= 0 and not times:
            raise ToolError(f"ocr: {media.source}: `every` is 0 and no `times` were given, nothing to read")
        engine = self.ready().engine
        assert engine is not None
        path = media.path or media.source
        sample_times: list[float] = []
        samples: list[list[Sighting]] = []
        previous: tuple[np.ndarray, list[Sighting]] | None = None
        try:
            for t, frame in self._frames(path, times, every, span, media.duration):
                thumb = _thumbnail(frame)
                if previous is None:
                    sightings = _sightings(frame, engine.read(frame))
                else:
                    sightings = _reread(frame, thumb, previous, engine.read)
                previous = (thumb, sightings)
                sample_times.append(t)
                samples.append(sightings)
        except dmedia.MediaError as exc:
            raise ToolError(f"ocr: could not decode frames: {exc}") from exc
        tracks = build_tracks(samples, max_gap=self.max_gap)
        return [self._observation(track, sample_times, span) for track in tracks]

    def _frames(self, path: str, times: list[float], every: float, span: TimeSpan, duration: float) -> Iterator[Frame]:
        """Keyframes and regular samples merged in time order, decoded in one pass; a frame is read once."""
        # Streamed, one frame held at a time: a long clip has many shots, and memory must stay flat. One decoder for
        # both lists: apart, the keyframes' own pass decoded most of the clip a second time (a seek per shot).
        regular = dmedia.sample_times(duration, every, span.start, span.end) if every > 0 else iter(())
        last: float | None = None
        for t, frame in dmedia.iter_frames_at(path, heapq.merge(times, regular), max_side=self.max_side):
            if last is not None and abs(t - last) < 1e-3:
                continue
            last = t
            yield t, frame

    def _observation(self, track: Track, times: list[float], span: TimeSpan) -> Observation:
        # From the first to the last sample that shows the text: what was seen, no guess about the frames between
        # samples (the coverage says how densely the clip was sampled, e.g. "OCR at 1 frame/s").
        start = times[track.first]
        end = max(start, min(times[track.last], span.end))
        box = track.box
        return Observation(
            tool=self.name,
            kind="text",
            content=track.text,
            span=TimeSpan(start=start, end=end),
            confidence=round(min(1.0, max(0.0, track.score)), 4),
            payload={
                "position": grid_position(box),
                "box": [round(v, 4) for v in box],
                "color": track.most_common("color"),
                "background": track.most_common("background"),
                "height_frac": round(box[3] - box[1], 4),
                "frames": len(track.sightings),
            },
        )


def _sightings(frame: np.ndarray, lines: list[TextLine]) -> list[Sighting]:
    height, width = frame.shape[:2]
    kept: list[Sighting] = []
    for line in lines:
        text = line.text.strip()
        if line.score < MIN_SCORE or is_junk(text):
            continue
        xs, ys = line.box[:, 0], line.box[:, 1]
        px = (int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max())))
        color, background, px = text_appearance(frame, px)
        box = (
            max(0.0, px[0] / width),
            max(0.0, px[1] / height),
            min(1.0, px[2] / width),
            min(1.0, px[3] / height),
        )
        kept.append(Sighting(text=text, score=line.score, box=box, color=color, background=background))
    return kept


def _reread(
    frame: np.ndarray,
    thumb: np.ndarray,
    previous: tuple[np.ndarray, list[Sighting]],
    read: Callable[[np.ndarray], list[TextLine]],
) -> list[Sighting]:
    """The sightings of a frame that follows a sample already read (``previous``: its thumbnail and sightings).

    Unchanged picture: the previous sightings. A change confined to a horizontal band of the frame: the text
    detector and recogniser look only at that band (the full width, grown to every previous line it touches, plus
    a margin of rows, at the frame's own scale, so lines come out as a whole-frame read finds them) and the
    previous lines wholly outside it stay. A change over most of the frame (a cut, camera motion): the whole
    frame is read.
    """
    before, kept = previous
    region = _changed_region(before, thumb, frame.shape[:2], kept)
    if region is None:
        return kept
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = region
    if (x1 - x0) * (y1 - y0) > PARTIAL_READ_MAX_AREA * width * height:
        return _sightings(frame, read(frame))
    lines = read(np.ascontiguousarray(frame[y0:y1, x0:x1]))
    for line in lines:
        line.box = line.box + np.array([x0, y0], dtype=np.float32)
    inside = (x0 / width, y0 / height, x1 / width, y1 / height)
    outside = [s for s in kept if not _overlaps(s.box, inside)]
    return outside + _sightings(frame, lines)


def _changed_region(
    before: np.ndarray, after: np.ndarray, shape: tuple[int, ...], lines: list[Sighting]
) -> tuple[int, int, int, int] | None:
    """Pixel box ``(0, y0, width, y1)`` of the full-width band holding every thumbnail cell that changed, grown to
    the previous lines it touches and by a margin of rows; ``None`` when nothing changed. Thumbnails of different
    sizes (never within one clip) give the whole frame."""
    if before.shape != after.shape:
        return (0, 0, shape[1], shape[0])
    changed = np.abs(after - before) > SAME_PICTURE_DIFF
    if not changed.any():
        return None
    rows = np.nonzero(changed.any(axis=1))[0]
    height, width = shape[0], shape[1]
    top, bottom = rows[0] * 4 / height, (rows[-1] + 1) * 4 / height
    grown = True
    while grown:  # a line reaching into the band is read again whole
        grown = False
        for line in lines:
            if line.box[1] < bottom and top < line.box[3] and (line.box[1] < top or line.box[3] > bottom):
                top, bottom = min(top, line.box[1]), max(bottom, line.box[3])
                grown = True
    margin = max(PARTIAL_READ_MARGIN, round(0.1 * height))
    return 0, max(0, int(top * height) - margin), width, min(height, int(np.ceil(bottom * height)) + margin)


def _overlaps(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """A 4x mean-pooled grey image: compression noise averages out, a changed character does not."""
    grey = frame.astype(np.float32).mean(axis=2)
    h, w = (grey.shape[0] // 4) * 4, (grey.shape[1] // 4) * 4
    return grey[:h, :w].reshape(h // 4, 4, w // 4, 4).mean(axis=(1, 3))
