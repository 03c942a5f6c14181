"""``omni-detective plugin new`` writes a skeleton whose own test passes once installed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from detective.plugin_template import names
from detective.plugin_template import plugin as plugin_cmd

from .conftest import clean_env, pip_install_target


def test_generated_plugin_installs_and_its_test_passes(tmp_path: Path) -> None:
    made = CliRunner().invoke(plugin_cmd, ["new", "Beat Counter", "--dir", str(tmp_path / "src")])
    assert made.exit_code == 0, made.output
    root = tmp_path / "src" / "omni-detective-beat-counter"
    assert f"wrote {root}" in made.output
    meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["entry-points"]["omni_detective"] == {"beat_counter": "detective_beat_counter"}
    assert (root / "tests" / "test_beat_counter.py").exists()

    site = pip_install_target(root, tmp_path / "install")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "install" / root.name)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(site)),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 passed" in proc.stdout

    # not installed, the same test fails: it really checks the installation
    bare = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert bare.returncode == 1 and "not registered" in bare.stdout


def test_names_and_refusals(tmp_path: Path) -> None:
    assert names("beat-counter") == {
        "dist": "omni-detective-beat-counter",
        "module": "detective_beat_counter",
        "tool": "beat_counter",
        "cls": "BeatCounterTool",
    }
    runner = CliRunner()
    bad = runner.invoke(plugin_cmd, ["new", "9lives", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "starting with a letter" in bad.output
    assert runner.invoke(plugin_cmd, ["new", "x", "--dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(plugin_cmd, ["new", "x", "--dir", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.output


@pytest.mark.parametrize("word", ["class", "import"])
def test_keywords_are_refused(word: str) -> None:
    with pytest.raises(Exception, match="keyword"):
        names(word)
