"""The ``ocr`` observer on the fixture clips: exact overlay text, spans, placement, colours; offline models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from detective_ocr import OCRTool
from detective_ocr import engine as ocr_engine
from detective_ocr import tool as tool_module
from detective_ocr.appearance import colour_name, grid_position
from detective_ocr.tracks import Sighting, build_tracks, is_junk, normalise

from detective.media import probe
from detective.models import Query, TimeSpan
from detective.testing import ToolTests
from detective.tools import ToolError


@pytest.fixture(scope="session")
def ocr_results(fixture_media: dict[str, Any]) -> dict[str, list[Any]]:
    """The OCR observations of each video fixture, computed once (default 1 fps sampling)."""
    tool = OCRTool()
    return {
        name: tool.observe(probe(fixture_media["clips"][name]["path"]), Query(tool="ocr"))
        for name in ("scene", "silent")
    }


@pytest.mark.parametrize("clip", ["scene", "silent"])
def test_every_overlay_is_read_exactly_with_its_span(
    clip: str, fixture_media: dict[str, Any], ocr_results: dict[str, list[Any]]
) -> None:
    observations = ocr_results[clip]
    truth = fixture_media["clips"][clip]["texts"]
    assert sorted(o.content for o in observations) == sorted(t["text"] for t in truth)
    for text in truth:
        (obs,) = [o for o in observations if o.content == text["text"]]
        assert obs.kind == "text" and obs.tool == "ocr"
        assert abs(obs.span.start - text["start"]) <= 1.0, (obs.span, text)
        assert abs(obs.span.end - text["end"]) <= 1.0, (obs.span, text)
        assert obs.confidence is not None and obs.confidence >= 0.8
        assert obs.payload.position == text["position"]
        assert obs.payload.color == text["color"]
        assert abs(obs.payload.height_frac - text["height_frac"]) <= 0.05
        x0, y0, x1, y1 = obs.payload.box
        assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0
        assert obs.payload.frames >= 2


def test_dark_caption_plate_is_the_background(ocr_results: dict[str, list[Any]]) -> None:
    (plate,) = [o for o in ocr_results["scene"] if o.content == "John Smith"]
    assert plate.payload.background == "black"


def test_keyframe_times_alone(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    times = [(t["start"] + t["end"]) / 2 for t in clip["texts"]]
    observations = OCRTool().observe(probe(clip["path"]), Query(tool="ocr", arguments={"times": times, "every": 0}))
    assert [o.content for o in observations] == [t["text"] for t in clip["texts"]]
    for obs, t in zip(observations, times, strict=True):
        assert obs.span.start == pytest.approx(t, abs=0.05)
        assert obs.span.end == obs.span.start  # keyframes alone: seen at one instant
        assert obs.payload.frames == 1


def test_span_limits_the_reading(fixture_media: dict[str, Any]) -> None:
    clip = fixture_media["clips"]["scene"]
    query = Query(tool="ocr", span=TimeSpan(start=4.0, end=8.0), arguments={"every": 0.5})
    observations = OCRTool().observe(probe(clip["path"]), query)
    assert [o.content for o in observations] == ["Episode 42"]
    assert observations[0].span.start == pytest.approx(4.6, abs=0.5)
    assert observations[0].span.end == pytest.approx(7.6, abs=0.5)
    # from the first to the last sample that shows the text (shown 4.6 <= t < 7.6, read every 0.5 s from 4.0)
    assert (observations[0].span.start, observations[0].span.end) == pytest.approx((5.0, 7.5), abs=0.05)


def test_identical_frames_reuse_the_previous_result(
    fixture_media: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = OCRTool()
    engine = tool.ready().engine
    calls: list[int] = []
    real_read = engine.read

    def counting_read(rgb: np.ndarray) -> list[ocr_engine.TextLine]:
        calls.append(1)
        return real_read(rgb)

    monkeypatch.setattr(engine, "read", counting_read)
    observations = tool.observe(
        probe(fixture_media["clips"]["silent"]["path"]), Query(tool="ocr", arguments={"every": 0.25})
    )
    assert [o.content for o in observations] == ["NO SOUND HERE"]
    samples = observations[0].payload.frames
    # 24 samples over 6 s, but only the overlay's onset/offset and the cut change the picture
    assert samples >= 6 and len(calls) <= 8


def test_a_caption_on_a_still_picture_is_read_in_its_band_only(
    fixture_media: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's overlays appear on still shots: those frames are read in the caption's band, not whole, and the
    tracks are the ones a whole-frame read of every changed frame gives."""
    demo = str(Path(__file__).resolve().parents[3] / "examples" / "media" / "demo.mp4")
    tool = OCRTool()
    engine = tool.ready().engine
    shapes: list[tuple[int, ...]] = []
    real_read = engine.read

    def recording_read(rgb: np.ndarray) -> list[ocr_engine.TextLine]:
        shapes.append(rgb.shape)
        return real_read(rgb)

    monkeypatch.setattr(engine, "read", recording_read)
    banded = tool.observe(probe(demo), Query(tool="ocr"))
    full_frames = [s for s in shapes if s[:2] == (360, 640)]
    bands = [s for s in shapes if s[:2] != (360, 640)]
    assert len(full_frames) == 4 and len(bands) == 4  # each shot's first frame whole, each overlay in its band
    assert all(s[1] == 640 and s[0] <= 180 for s in bands)

    monkeypatch.setattr(tool_module, "PARTIAL_READ_MAX_AREA", 0.0)  # every changed frame read whole
    whole = tool.observe(probe(demo), Query(tool="ocr"))
    assert [(o.content, o.span, o.payload.position, o.payload.color) for o in banded] == [
        (o.content, o.span, o.payload.position, o.payload.color) for o in whole
    ]
    for a, b in zip(banded, whole, strict=True):
        assert np.allclose(a.payload.box, b.payload.box, atol=0.03)


def test_a_line_reaching_into_the_changed_band_is_read_again_whole() -> None:
    before = np.zeros((90, 160), dtype=np.float32)
    after = before.copy()
    after[40:44, 10:20] = 255.0  # thumbnail rows 40-43: pixels 160-175 of a 360-pixel-high frame
    line = Sighting(text="Lower third", score=0.99, box=(0.1, 0.40, 0.6, 0.47), color="white", background="black")
    far = Sighting(text="LIVE", score=0.99, box=(0.8, 0.02, 0.95, 0.08), color="red", background="black")
    region = tool_module._changed_region(before, after, (360, 640), [line, far])
    assert region is not None
    x0, y0, x1, y1 = region
    assert (x0, x1) == (0, 640)
    assert y0 <= 0.40 * 360 - 32 and y1 >= 0.47 * 360 + 32  # grown to the whole line, plus a margin
    assert y0 > 0.08 * 360  # the far line is not in the band, so it is kept as it was
    assert tool_module._changed_region(before, before.copy(), (360, 640), [line]) is None


def test_model_threads_sleep_between_calls() -> None:
    """onnxruntime's spinning threads are switched off in both OCR sessions (they doubled the CPU time)."""
    options = ocr_engine.session_options(2)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    engine = OCRTool().ready().engine
    sessions = [engine._ocr.text_det.session.session, engine._ocr.text_rec.session.session]
    assert all(
        s.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0" for s in sessions
    )


def test_a_clip_without_video_does_not_apply(fixture_media: dict[str, Any]) -> None:
    media = probe(fixture_media["clips"]["speech"]["path"])
    tool = OCRTool()
    assert not tool.applies_to(media)
    with pytest.raises(ToolError, match="no video"):
        tool.observe(media, Query(tool="ocr"))


def test_models_come_from_the_wheel_and_never_download(monkeypatch: pytest.MonkeyPatch) -> None:
    from rapidocr.utils import download_file

    def no_download(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("rapidocr tried to download a model")

    monkeypatch.setattr(download_file.DownloadFile, "run", classmethod(no_download))
    config = ocr_engine.EngineConfig(use_cls=True, threads=1)
    paths = ocr_engine.model_paths(config)
    assert all(p.parent == ocr_engine.wheel_model_dir() for p in paths.values())
    engine = ocr_engine.OCREngine(config)  # a fresh engine: loads every model file now
    frame = np.full((120, 400, 3), 255, dtype=np.uint8)
    frame[40:80, 40:360] = 0  # a black bar, not text
    assert all(line.score <= 1.0 for line in engine.read(frame))


def test_missing_model_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"missing: .*PP-OCRv6_det_small\.onnx.*never downloaded"):
        ocr_engine.model_paths(ocr_engine.EngineConfig(model_dir=str(tmp_path)))


def _sighting(text: str, x: float = 0.1, score: float = 0.95) -> Sighting:
    return Sighting(text=text, score=score, box=(x, 0.1, x + 0.3, 0.2), color="white", background="black")


def test_tracks_link_consecutive_samples_and_bridge_one_miss() -> None:
    samples = [
        [_sighting("Hello World")],
        [],  # one missed sample inside the caption
        [_sighting("hello world."), _sighting("Other", x=0.6)],
        [_sighting("Hello World")],
        [],
        [],
        [_sighting("Hello World")],  # after two empty samples: a new appearance
    ]
    tracks = build_tracks(samples, max_gap=1)
    spans = sorted((t.key, t.first, t.last) for t in tracks)
    assert spans == [("hello world", 0, 3), ("hello world", 6, 6), ("other", 2, 2)]
    first = next(t for t in tracks if t.first == 0)
    assert first.text == "Hello World" and len(first.sightings) == 3


def test_same_text_in_two_places_is_two_tracks() -> None:
    tracks = build_tracks([[_sighting("LIVE", x=0.0), _sighting("LIVE", x=0.7)]] * 2)
    assert len(tracks) == 2 and all(len(t.sightings) == 2 for t in tracks)


def test_junk_and_normalisation() -> None:
    assert is_junk("|") and is_junk(" a ") and is_junk("--")
    assert not is_junk("42") and not is_junk("Go")
    assert normalise("  Hello,   World! ") == "hello, world"


@pytest.mark.parametrize(
    ("box", "name"),
    [
        ((0.0, 0.0, 0.2, 0.1), "top-left"),
        ((0.4, 0.0, 0.6, 0.1), "top"),
        ((0.8, 0.0, 1.0, 0.1), "top-right"),
        ((0.1, 0.45, 0.9, 0.55), "center"),
        ((0.0, 0.45, 0.2, 0.55), "left"),
        ((0.3, 0.8, 0.7, 0.95), "bottom"),
        ((0.8, 0.8, 1.0, 0.95), "bottom-right"),
    ],
)
def test_grid_position(box: tuple[float, float, float, float], name: str) -> None:
    assert grid_position(box) == name


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((255, 255, 255), "white"),
        ((0, 0, 0), "black"),
        ((255, 255, 0), "yellow"),
        ((230, 20, 20), "red"),
        ((20, 60, 230), "blue"),
        ((0x1D, 0x35, 0x57), "dark blue"),
        ((0x00, 0x5F, 0x73), "teal"),
        ((128, 128, 128), "gray"),
    ],
)
def test_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    assert colour_name(rgb) == name


class TestOCRToolStandard(ToolTests):
    """The standard tests every tool passes (``detective.testing.ToolTests``), on the demo clip."""

    tool_class = OCRTool
    registered_name = "ocr"


def _strokes_on_gradient(left: tuple[int, int, int], right: tuple[int, int, int], ink: tuple[int, int, int]) -> Any:
    """A 40x200 text box: a horizontal gradient from ``left`` to ``right`` with ``ink`` strokes (upright bars and a
    crossbar, like glyphs, about a fifth of the box) inside a padding of background."""
    t = np.linspace(0.0, 1.0, 200)[None, :, None]
    crop = ((1 - t) * np.array(left) + t * np.array(right)) * np.ones((40, 1, 1))
    for x in range(20, 180, 16):
        crop[8:32, x : x + 4] = ink
    crop[18:22, 20:180:2] = ink
    return crop.astype(np.uint8)


@pytest.mark.parametrize(
    ("left", "right", "ink", "text", "background"),
    [
        ((0x6A, 0x04, 0x0F), (0xF4, 0x8C, 0x06), (255, 255, 0), "yellow", "orange"),  # the scene clip's second shot
        ((0x26, 0x46, 0x53), (0xE7, 0x6F, 0x51), (255, 255, 255), "white", "red"),
        ((0x3A, 0x0C, 0xA3), (0xF7, 0x25, 0x85), (255, 255, 0), "yellow", "magenta"),
        ((255, 255, 255), (255, 255, 255), (0, 0, 0), "black", "white"),  # no gradient: as before
    ],
)
def test_a_background_gradient_does_not_pass_for_text(
    left: tuple[int, int, int], right: tuple[int, int, int], ink: tuple[int, int, int], text: str, background: str
) -> None:
    from detective_ocr.appearance import text_appearance

    crop = _strokes_on_gradient(left, right, ink)
    color, behind, tight = text_appearance(crop, (0, 0, 200, 40))
    assert color == text
    assert behind == background  # the median of the background pixels: the gradient's middle
    assert tight == (20, 8, 179, 32)  # the strokes' extent, not the gradient's light end


def test_text_as_light_as_the_middle_of_its_gradient_keeps_its_colour() -> None:
    from detective_ocr.appearance import text_appearance

    # red strokes across black to white: lighter than the background at the left, darker at the right
    color, behind, _ = text_appearance(_strokes_on_gradient((0, 0, 0), (255, 255, 255), (200, 0, 0)), (0, 0, 200, 40))
    assert (color, behind) == ("red", "gray")
