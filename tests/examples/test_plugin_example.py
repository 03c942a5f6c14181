"""examples/plugin-example: installed as a real distribution, found through its entry point, its tests pass."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from detective import plugins
from detective.agent.detective import Detective
from detective.media import probe, wav_bytes

from .conftest import EXAMPLES, clean_env


@pytest.fixture
def with_example(plugin_example_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(plugin_example_site))
    monkeypatch.delenv("OMNI_DETECTIVE_LOAD_PLUGINS", raising=False)
    plugins.reset()
    yield
    sys.modules.pop("detective_clipping", None)
    plugins.reset()


def test_its_own_tests_pass_when_installed(plugin_example_site: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(EXAMPLES / "plugin-example" / "tests"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(plugin_example_site)),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "11 passed" in proc.stdout  # its own three tests and the eight standard ToolTests


def test_the_detective_uses_the_installed_tool(with_example: None, tmp_path: Path) -> None:
    described = {p["name"]: p for p in plugins.describe()}
    assert described["clipping"]["tools"] == ["clipping"]
    assert described["clipping"]["distribution"] == "omni-detective-clipping"
    t = np.arange(4 * 16000) / 16000
    level = np.where((t >= 2.0) & (t < 3.0), 3.0, 0.2)
    path = tmp_path / "loud.wav"
    path.write_bytes(wav_bytes(np.clip(level * np.sin(2 * np.pi * 220 * t), -1, 1).astype(np.float32), sr=16000))
    result = Detective(tools=["clip", "audio_events"], offline=True).run(str(path), media=probe(str(path)))
    clipped = result.evidence.by_tool("clipping")
    assert len(clipped) == 1 and abs(clipped[0].span.start - 2.0) < 0.06 and abs(clipped[0].span.end - 3.0) < 0.06
    assert result.provenance.tools["clipping"] == "0.1.0"
    assert result.provenance.plugins["clipping"] == "0.1.0"
