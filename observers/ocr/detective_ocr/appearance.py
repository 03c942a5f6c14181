"""How a text line looks: where on screen (3x3 grid), its colour and its background colour, as plain names."""

from __future__ import annotations

import colorsys

import numpy as np

_ROWS = ("top", "", "bottom")
_COLS = ("left", "", "right")


def grid_position(box: tuple[float, float, float, float]) -> str:
    """The 3x3 grid cell of a normalised ``[x0, y0, x1, y1]`` box's centre: ``top-left`` … ``bottom-right``."""
    cx = (box[0] + box[2]) / 2.0
    cy = (box[1] + box[3]) / 2.0
    row = _ROWS[min(2, max(0, int(cy * 3)))]
    col = _COLS[min(2, max(0, int(cx * 3)))]
    if row and col:
        return f"{row}-{col}"
    return row or col or "center"


def colour_name(rgb: np.ndarray | tuple[float, float, float]) -> str:
    """A plain colour name for an RGB triple in 0..255 (greys by lightness, colours by hue)."""
    r, g, b = (float(c) / 255.0 for c in rgb)
    hue, sat, val = colorsys.rgb_to_hsv(r, g, b)
    if val < 0.2:
        return "black"
    if sat < 0.2 or (sat < 0.3 and val < 0.4):
        if val > 0.85:
            return "white"
        if val > 0.6:
            return "light gray"
        if val > 0.35:
            return "gray"
        return "dark gray"
    degrees = hue * 360.0
    if 15 <= degrees < 40 and val < 0.6:
        return "brown"
    name = _hue_name(degrees)
    if val < 0.5:
        return "teal" if name == "cyan" else f"dark {name}"
    return name


def _hue_name(degrees: float) -> str:
    for limit, name in (
        (15, "red"),
        (40, "orange"),
        (70, "yellow"),
        (165, "green"),
        (195, "cyan"),
        (255, "blue"),
        (290, "purple"),
        (340, "magenta"),
    ):
        if degrees < limit:
            return name
    return "red"


def _otsu(values: np.ndarray) -> float:
    """Otsu's threshold of 0..255 values: the split that maximises between-class variance."""
    hist = np.bincount(np.clip(values, 0, 255).astype(np.int64).ravel(), minlength=256).astype(np.float64)
    weight = np.cumsum(hist)
    mean = np.cumsum(hist * np.arange(256))
    total_w, total_m = weight[-1], mean[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_m * weight - mean * total_w) ** 2 / (weight * (total_w - weight))
    return float(np.nanargmax(np.nan_to_num(between, nan=-1.0)))


def _ring(height: int, width: int, thickness: int = 2) -> np.ndarray:
    """The outer ``thickness`` pixels of a ``height`` x ``width`` crop (the detector's padding: background)."""
    ring = np.zeros((height, width), dtype=bool)
    ring[:thickness] = ring[-thickness:] = True
    ring[:, :thickness] = ring[:, -thickness:] = True
    return ring


def background_slope(light: np.ndarray) -> np.ndarray:
    """The lightness a gradient behind the text adds at each pixel of a crop (mean 0): a plane ``a + b·x + c·y``
    fitted to the crop's border, twice, the second time without the border pixels far off the first fit (glyph
    strokes that touch the border). Subtracted before the split, it keeps the light end of a gradient from
    passing for text and the dark end for background."""
    height, width = light.shape
    ys, xs = np.mgrid[0:height, 0:width]
    design = np.stack([np.ones(height * width, np.float32), xs.ravel() / width, ys.ravel() / height], axis=1)
    ring = _ring(height, width).ravel()
    values = light.ravel()
    keep = ring
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        fit = design @ coef
        off = np.abs(values - fit)
        keep = ring & (off <= 2.0 * np.median(off[ring]) + 1.0)
    return (fit - fit.mean()).reshape(height, width)


def text_appearance(rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[str, str, tuple[int, int, int, int]]:
    """``(text colour, background colour, tight box)`` of the text inside a pixel box ``(x0, y0, x1, y1)``.

    The crop is split by lightness (Otsu) once the slope of a background gradient is taken out
    (:func:`background_slope`): the smaller class is the glyphs, the larger the background (the detector pads its
    boxes, so glyph strokes are the minority even on a caption plate). The text colour is the median of the glyph
    pixels farthest from the split, which skips anti-aliased edges; the tight box is the extent of the glyph
    pixels.
    """
    x0, y0, x1, y1 = (max(0, v) for v in box)
    crop = rgb[y0:y1, x0:x1].astype(np.float32)
    if crop.shape[0] < 3 or crop.shape[1] < 3:
        return "unknown", "unknown", box
    light = crop @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if crop.shape[0] >= 6 and crop.shape[1] >= 6:
        light = np.clip(light - background_slope(light), 0.0, 255.0)
    threshold = _otsu(light)
    above = np.floor(light) > threshold  # Otsu's classes are of whole levels: the split falls between two
    if float(light.max() - light.min()) < 40.0 or above.all() or not above.any():
        name = colour_name(np.median(crop.reshape(-1, 3), axis=0))
        return name, name, box
    glyphs = above if above.mean() < 0.5 else ~above
    far = glyphs & (np.abs(light - threshold) >= np.median(np.abs(light[glyphs] - threshold)))
    text = colour_name(np.median(crop[far], axis=0))
    background = colour_name(np.median(crop[~glyphs], axis=0))
    ys, xs = np.nonzero(glyphs)
    tight = (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1)
    return text, background, tight
