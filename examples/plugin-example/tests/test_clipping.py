"""The plugin is installed, registers its tool, and the tool finds the clipped span of a made-up clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from detective_clipping import ClippingTool

from detective.media import probe, wav_bytes
from detective.models import Query
from detective.plugins import get_registry
from detective.testing import ToolTests


def _clip_with_clipping(path: Path) -> Path:
    """3 s of a quiet 440 Hz tone, driven into clipping from 1.0 s to 1.5 s."""
    t = np.arange(3 * 16000) / 16000
    level = np.where((t >= 1.0) & (t < 1.5), 4.0, 0.3)
    samples = np.clip(level * np.sin(2 * np.pi * 440 * t), -1.0, 1.0).astype(np.float32)
    path.write_bytes(wav_bytes(samples, sr=16000))
    return path


def test_plugin_is_installed_and_registers_its_tool() -> None:
    registry = get_registry()
    assert "clipping" in registry.tools, registry.failures
    assert registry.tools["clipping"].plugin == "clipping"
    assert registry.tool("clip").name == "clipping"


def test_tool_finds_the_clipped_span(tmp_path: Path) -> None:
    media = probe(str(_clip_with_clipping(tmp_path / "clipped.wav")))
    found = get_registry().tool("clipping").observe(media, Query(tool="clipping"))
    assert len(found) == 1
    span = found[0].span
    assert abs(span.start - 1.0) <= 0.05 and abs(span.end - 1.5) <= 0.05
    assert found[0].payload.clipped_samples > 1000


def test_a_clean_clip_has_no_clipping(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    path = tmp_path / "clean.wav"
    path.write_bytes(wav_bytes((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr=16000))
    assert get_registry().tool("clipping").observe(probe(str(path)), Query(tool="clipping")) == []


class TestClippingStandard(ToolTests):
    """The standard tests every tool passes, on a clip that clips (the demo clip never does)."""

    tool_class = ClippingTool
    registered_name = "clipping"

    @pytest.fixture
    def clip_path(self, tmp_path: Path) -> str:
        return str(_clip_with_clipping(tmp_path / "clipped.wav"))
