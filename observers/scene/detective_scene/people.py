"""People in a frame: the Dalal-Triggs HOG people detector (OpenCV's default one), computed with numpy and OpenCV 5.

OpenCV 5 no longer has ``cv2.HOGDescriptor``; its linear SVM for 64x128 pedestrian windows
(``HOGDescriptor_getDefaultPeopleDetector``, 3780 weights and a bias) ships here as ``models/hog_people_svm.npy``,
and this module computes the descriptor it was trained on the way OpenCV 4 does (``modules/objdetect/src/hog.cpp``):
square-root gamma, centred gradients taking the strongest colour channel, 9 unsigned orientation bins with linear
interpolation between bins, 16x16 blocks of 2x2 cells of 8x8 pixels, each pixel spread over the block's cells
bilinearly and weighted by a Gaussian (sigma 4) about the block's centre, L2-Hys block normalisation (clip 0.2),
blocks in column order. A test checks the descriptor against the numbers OpenCV 4 gives for the same window.

Windows slide by 8 pixels over an image pyramid; raw detections are grouped as ``groupRectangles`` does and a
group is kept from :data:`MIN_GROUP` windows on, scored by its best window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WIN_W, WIN_H = 64, 128
CELL = 8
BINS = 9
BLOCK_COLS, BLOCK_ROWS = WIN_W // CELL - 1, WIN_H // CELL - 1  # 7 x 15 blocks in a window
SVM_FILE = "hog_people_svm.npy"
#: Raw windows scoring above this (the SVM's margin; OpenCV's ``hitThreshold`` default) join a group.
HIT_THRESHOLD = 0.0
#: A group needs more windows than this (OpenCV's ``finalThreshold`` default 2) to be a detection.
MIN_GROUP = 2
#: Rectangles this similar (share of their size) are one group (OpenCV's ``groupRectangles`` eps).
GROUP_EPS = 0.2


@dataclass(frozen=True)
class Person:
    """One detected person: box ``(x0, y0, x1, y1)`` normalised to the frame (0..1) and the best window's margin."""

    box: tuple[float, float, float, float]
    score: float


def _axis_weights() -> np.ndarray:
    """``(8, 4)``: along one axis, the weight of each pixel of an 8-pixel quadrant for each (block cell,
    quadrant) pair, column ``cell * 2 + quadrant``: a Gaussian (sigma 4, OpenCV's default ``winSigma``) about the
    block's centre times the pixel's linear share between the two cell centres. The block's 16x16 weights are the
    product of the weights along y and along x."""
    i = np.arange(2 * CELL, dtype=np.float64)
    sigma = (2 * CELL + 2 * CELL) / 8.0
    gauss = np.exp(-((i - CELL) ** 2) / (2 * sigma * sigma))
    pos = (i + 0.5) / CELL - 0.5  # a pixel's place between the cell centres
    near = np.floor(pos)
    frac = pos - near
    share = np.zeros((2, 2 * CELL))  # (cell along the axis, pixel)
    for k in range(2 * CELL):
        lo = int(near[k])
        for cell, w in ((lo, 1.0 - frac[k]), (lo + 1, frac[k])):
            if 0 <= cell < 2:
                share[cell, k] = w
    out = np.zeros((CELL, 4), dtype=np.float32)
    for cell in range(2):
        for quadrant in range(2):
            part = slice(quadrant * CELL, (quadrant + 1) * CELL)
            out[:, cell * 2 + quadrant] = (gauss * share[cell])[part]
    return out


_AXIS = _axis_weights()
_GAMMA = np.sqrt(np.arange(256, dtype=np.float32))


def _gradients(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: gradient magnitude of the strongest channel (after square-root gamma) and its unsigned angle
    as a fractional bin in ``[0, BINS)``."""
    import cv2

    image = _GAMMA[rgb]
    kernel = np.array([[-1.0, 0.0, 1.0]], dtype=np.float32)
    dx = cv2.filter2D(image, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT_101)
    dy = cv2.filter2D(image, cv2.CV_32F, kernel.T, borderType=cv2.BORDER_REFLECT_101)
    power = dx * dx + dy * dy
    best = power.argmax(axis=2)[..., None]
    dx = np.ascontiguousarray(np.take_along_axis(dx, best, axis=2)[..., 0])
    dy = np.ascontiguousarray(np.take_along_axis(dy, best, axis=2)[..., 0])
    magnitude, angle = cv2.cartToPolar(dx, dy)
    return magnitude, angle * np.float32(BINS / np.pi) - np.float32(0.5)


def block_grid(rgb: np.ndarray) -> np.ndarray:
    """The normalised 36-number histogram of every 16x16 block at an 8-pixel stride: ``(rows, cols, 36)``.

    The image is cropped to whole cells first."""
    height, width = (rgb.shape[0] // CELL) * CELL, (rgb.shape[1] // CELL) * CELL
    magnitude, angle = _gradients(rgb)
    magnitude, angle = magnitude[:height, :width], angle[:height, :width]
    low = np.floor(angle)
    upper = magnitude * (angle - low)
    lower = magnitude - upper
    low = low.astype(np.int8) % BINS
    high = (low + 1) % BINS
    ch, cw = height // CELL, width // CELL
    br, bc = ch - 1, cw - 1
    hist = np.zeros((br, bc, 2, 2, BINS), dtype=np.float32)  # (block row, block col, cell x, cell y, bin)
    for b in range(BINS):
        plane = np.where(low == b, lower, 0.0) + np.where(high == b, upper, 0.0)
        # weights along x, then along y, each a small matrix product: (ch, 4 [cy, qy], cw, 4 [cx, qx])
        rows = plane.reshape(height, cw, CELL) @ _AXIS
        both = (_AXIS.T @ rows.reshape(ch, CELL, cw * 4)).reshape(ch, 2, 2, cw, 2, 2)
        for qy in range(2):
            for qx in range(2):
                part = both[qy : qy + br, :, qy, qx : qx + bc, :, qx]  # (br, cy, bc, cx)
                hist[..., b] += part.transpose(0, 2, 3, 1)
    hist = hist.reshape(br, bc, 4 * BINS)
    # L2-Hys, as OpenCV: scale by 1 / (norm + 0.1 * size), clip at 0.2, scale by 1 / (norm + 1e-3)
    hist = hist / (np.sqrt((hist * hist).sum(axis=2, keepdims=True)) + 0.1 * hist.shape[2])
    hist = np.minimum(hist, 0.2)
    return hist / (np.sqrt((hist * hist).sum(axis=2, keepdims=True)) + 1e-3)


def descriptor(window: np.ndarray) -> np.ndarray:
    """The 3780-number HOG descriptor of one 64x128 RGB window, in OpenCV's order (blocks column by column)."""
    grid = block_grid(window)
    return grid.transpose(1, 0, 2).reshape(-1)


def window_scores(grid: np.ndarray, svm: np.ndarray) -> np.ndarray:
    """SVM margin of every 64x128 window of a block grid, at the blocks' 8-pixel stride: ``(rows, cols)``."""
    weights = svm[:-1].reshape(BLOCK_COLS, BLOCK_ROWS, 4 * BINS)  # (block x, block y, 36)
    rows, cols = grid.shape[0] - BLOCK_ROWS + 1, grid.shape[1] - BLOCK_COLS + 1
    if rows <= 0 or cols <= 0:
        return np.zeros((0, 0), dtype=np.float32)
    scores = np.full((rows, cols), float(svm[-1]), dtype=np.float32)
    for by in range(BLOCK_ROWS):
        for bx in range(BLOCK_COLS):
            scores += grid[by : by + rows, bx : bx + cols] @ weights[bx, by]
    return scores


def _similar(a: np.ndarray, b: np.ndarray, eps: float) -> bool:
    delta = eps * (min(a[2] - a[0], b[2] - b[0]) + min(a[3] - a[1], b[3] - b[1])) * 0.5
    return bool(np.all(np.abs(a - b) <= delta))


def group(boxes: np.ndarray, scores: np.ndarray, min_group: int = MIN_GROUP, eps: float = GROUP_EPS) -> list[Person]:
    """Raw window boxes (pixels) grouped as OpenCV's ``groupRectangles``: groups of more than ``min_group``
    similar boxes, each the mean of its boxes, scored by its best window; boxes inside a better group dropped."""
    n = len(boxes)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if _similar(boxes[i], boxes[j], eps):
                parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(root(i), []).append(i)
    found = [
        (boxes[idx].mean(axis=0), float(scores[idx].max()), len(idx))
        for idx in members.values()
        if len(idx) > min_group
    ]
    kept: list[tuple[np.ndarray, float]] = []
    # a small group inside a bigger, surer one is the same person (groupRectangles' second filter)
    for box, score, count in found:
        inside = False
        for other, other_score, other_count in found:
            if other is box or other_count < max(3, count):
                continue
            dx, dy = (other[2] - other[0]) * eps, (other[3] - other[1]) * eps
            if (
                box[0] >= other[0] - dx
                and box[1] >= other[1] - dy
                and box[2] <= other[2] + dx
                and box[3] <= other[3] + dy
                and (other_count > count or other_score > score)
                and not np.array_equal(box, other)
            ):
                inside = True
                break
        if not inside:
            kept.append((box, score))
    return [Person(box=tuple(float(v) for v in box), score=score) for box, score in kept]  # type: ignore[arg-type]


class PeopleDetector:
    """The HOG people detector over an image pyramid (``scale`` between levels, ``upscale`` of the frame first,
    for people smaller than the 128-pixel window)."""

    def __init__(self, svm_path: Path, scale: float = 1.1, upscale: float = 1.0) -> None:
        svm = np.load(svm_path).astype(np.float32).reshape(-1)
        if svm.size != BLOCK_COLS * BLOCK_ROWS * 4 * BINS + 1:
            raise ValueError(f"{svm_path}: {svm.size} numbers, not a 64x128 HOG people detector")
        self.svm = svm
        self.scale = scale
        self.upscale = upscale

    def detect(self, rgb: np.ndarray, hit_threshold: float = HIT_THRESHOLD) -> list[Person]:
        """People in an RGB frame, best first (boxes normalised to the frame)."""
        import cv2

        height, width = rgb.shape[:2]
        boxes: list[tuple[float, float, float, float]] = []
        scores: list[float] = []
        factor = 1.0 / self.upscale
        while True:
            w, h = round(width / factor), round(height / factor)
            if w < WIN_W or h < WIN_H:
                break
            level = rgb if (w, h) == (width, height) else cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
            grid = block_grid(level)
            margins = window_scores(grid, self.svm)
            for r, c in zip(*np.nonzero(margins > hit_threshold), strict=True):
                x0, y0 = c * CELL * factor, r * CELL * factor
                boxes.append((x0, y0, x0 + WIN_W * factor, y0 + WIN_H * factor))
                scores.append(float(margins[r, c]))
            factor *= self.scale
        if not boxes:
            return []
        people = group(np.asarray(boxes, dtype=np.float64), np.asarray(scores))
        scale = np.array([width, height, width, height], dtype=np.float64)
        out = [
            Person(box=tuple(round(float(v), 4) for v in np.clip(np.asarray(p.box) / scale, 0.0, 1.0)), score=p.score)  # type: ignore[arg-type]
            for p in people
        ]
        return sorted(out, key=lambda p: -p.score)


def level_count(height: int, width: int, scale: float, upscale: float) -> int:
    """How many pyramid levels :meth:`PeopleDetector.detect` looks at for a frame of this size."""
    return max(0, math.floor(math.log(min(width * upscale / WIN_W, height * upscale / WIN_H)) / math.log(scale)) + 1)
