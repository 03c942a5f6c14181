"""Damaged media degrade, never fail: a damaged packet or frame is skipped and its span noted, the rest decodes
with its true clip times (``damage``), and a clip with damaged audio is captioned with the damage in its coverage.

The files come from ``tests/fixtures/make_real_footage.py``: a generated clip with byte damage at known places,
and ``film.avi``, opencv-doc's Megamind.avi unchanged, whose first and last AC-3 audio frames are damaged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from detective import Detective
from detective import media as dmedia
from detective.evidence.coverage import examined, undecoded, undecoded_sentence
from detective.models import Coverage, Evidence, TimeSpan

SR = 16000


def _spans(path: str, kind: str) -> list[tuple[float, float]]:
    return [(span.start, span.end) for _, span, _ in dmedia.damage(path, kind)]


def _beep_share(audio: np.ndarray, start: float, end: float) -> float:
    """Share of the 1 kHz band's energy of the whole clip that falls in ``[start, end)``."""
    frames = audio[: audio.size // 800 * 800].reshape(-1, 800)  # 50 ms frames
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(800), axis=1))
    band = spectrum[:, 45:56].sum(axis=1) ** 2  # 900-1100 Hz at 20 Hz a bin
    t = np.arange(band.size) * 0.05
    return float(band[(t >= start) & (t < end)].sum() / band.sum())


def test_a_damaged_audio_frame_is_skipped_and_noted(real_footage: dict[str, Any]) -> None:
    clip = real_footage["damaged"]["damaged_audio"]
    audio = dmedia.load_audio(clip["path"], sr=SR)
    assert abs(audio.size / SR - clip["duration"]) < 0.05  # the hole is filled: nothing after it moves
    (truth,) = clip["damage"]
    (found,) = _spans(clip["path"], "audio")
    assert found[0] == pytest.approx(truth["start"], abs=0.002) and found[1] == pytest.approx(truth["end"], abs=0.002)
    assert _spans(clip["path"], "video") == []
    start, end = clip["beep"]
    assert _beep_share(audio, start, end) > 0.9  # the 1 kHz beep is still at 5.0-5.5 s after the skipped frame
    hole = audio[round(truth["start"] * SR) : round(truth["end"] * SR)]
    assert np.abs(hole).max() == 0.0  # silence, not the decoder's concealed garbage


def test_a_damaged_video_frame_is_skipped_and_noted(real_footage: dict[str, Any]) -> None:
    clip = real_footage["damaged"]["damaged_video"]
    (truth,) = clip["damage"]
    times = [t for t, _ in dmedia.frames_at(clip["path"], [1.0, truth["start"] + 0.01, 7.9])]
    # the damaged frame is never shown: a neighbour is, with its own true time
    assert not truth["start"] <= times[1] < truth["end"] and abs(times[1] - truth["start"]) < 0.1
    assert times[2] == pytest.approx(7.88, abs=0.05)
    (found,) = _spans(clip["path"], "video")
    assert found[0] == pytest.approx(truth["start"], abs=0.002)


def test_a_file_cut_short_has_its_missing_tail_noted(real_footage: dict[str, Any]) -> None:
    clip = real_footage["damaged"]["truncated"]
    audio = dmedia.load_audio(clip["path"], sr=SR)
    decoded = audio.size / SR
    assert 6.0 < decoded < clip["duration"] - 0.3
    list(dmedia.iter_frames(clip["path"], every=2.0))
    for kind in ("audio", "video"):
        ((start, end),) = _spans(clip["path"], kind)
        assert start == pytest.approx(decoded, abs=0.1) and end == pytest.approx(clip["duration"], abs=0.05)


def test_undamaged_clips_report_no_damage(fixture_media: dict[str, Any], real_footage: dict[str, Any]) -> None:
    for path in (fixture_media["clips"]["scene"]["path"], real_footage["clips"]["pedestrians"]["path"]):
        dmedia.load_audio(path)
        list(dmedia.iter_frames(path, every=2.0))
        assert dmedia.damage(path) == [], path


def test_the_real_film_with_damaged_audio_frames_is_captioned(real_footage: dict[str, Any]) -> None:
    clip = real_footage["clips"]["film"]
    result = Detective(tools=["shots", "audio_events"], offline=True).run(clip["path"])
    assert result.caption.storyline
    lost = undecoded(result.evidence)
    assert [(m, round(s.start, 2), round(s.end, 2)) for m, s in lost] == [
        ("audio", round(d["start"], 2), round(d["end"], 2)) for d in clip["damage"]
    ]
    overview = next(s.body for s in result.caption.sections if s.title == "Overview")
    assert "The audio could not be decoded from 00:00.000 to 00:00.032" in overview
    assert "00:11.231 to 00:11.263" in overview
    assert all(c.ok for c in result.evidence.coverage), [c.error for c in result.evidence.coverage if not c.ok]


def test_undecoded_spans_are_not_examined() -> None:
    lost = (("audio", TimeSpan(start=2.0, end=4.0)),)
    run = Coverage(tool="t", query_key="k", modalities=("audio",), aspects=("sound",), span=TimeSpan(start=0, end=10))
    board = Evidence(coverage=[run.model_copy(update={"undecoded": lost})])
    assert examined(board, "sound", TimeSpan(start=5.0, end=9.0))
    assert not examined(board, "sound", TimeSpan(start=1.0, end=5.0))
    video = Coverage(tool="v", query_key="v", modalities=("video",), aspects=("text",), span=TimeSpan(start=0, end=10))
    board = Evidence(coverage=[*board.coverage, video])
    assert examined(board, "text", TimeSpan(start=1.0, end=5.0))  # audio damage does not hide the picture
    assert undecoded_sentence(board).startswith("The audio could not be decoded from 00:02.000 to 00:04.000")
    assert undecoded_sentence(Evidence()) == ""
