"""``omni-detective plugin new`` writes a skeleton whose own tests (the standard ``ToolTests`` among them) pass in
full once installed, none skipped, and whose tool's observations are of a kind the captioners write about."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import typing
from pathlib import Path

import pytest
from click.testing import CliRunner

from detective.cli.plugin_template import names
from detective.cli.plugin_template import plugin as plugin_cmd

from .conftest import clean_env, pip_install_target


def test_generated_plugin_installs_and_its_test_passes(tmp_path: Path) -> None:
    made = CliRunner().invoke(plugin_cmd, ["new", "Beat Counter", "--dir", str(tmp_path / "src")])
    assert made.exit_code == 0, made.output
    root = tmp_path / "src" / "omni-detective-beat-counter"
    assert f"wrote {root}" in made.output
    meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["entry-points"]["omni_detective"] == {"beat_counter": "detective_beat_counter"}
    assert (root / "tests" / "test_beat_counter.py").exists()

    test_source = (root / "tests" / "test_beat_counter.py").read_text(encoding="utf-8")
    assert "class TestBeatCounterTool(ToolTests):" in test_source

    site = pip_install_target(root, tmp_path / "install")
    # the plugin's tests run outside the repository, so the demo clip must come from the installed package
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path / "install" / root.name)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=path),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "10 passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-2000:]

    # not installed, the same test fails: it really checks the installation
    bare = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=clean_env(),
    )
    assert bare.returncode != 0 and "No module named 'detective_beat_counter'" in bare.stdout, bare.stdout[-2000:]


def test_the_skeleton_reports_a_kind_the_captioners_write_about(tmp_path: Path) -> None:
    from detective.media import probe
    from detective.models import ObservationKind, Query
    from detective.testing.standard import DEMO_CLIP

    made = CliRunner().invoke(plugin_cmd, ["new", "Level Meter", "--dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    module = tmp_path / "omni-detective-level-meter" / "detective_level_meter.py"
    namespace: dict = {}
    exec(compile(module.read_text(encoding="utf-8"), str(module), "exec"), namespace)
    found = namespace["LevelMeterTool"]().observe(probe(str(DEMO_CLIP)), Query(tool="level_meter"))
    assert [o.kind for o in found] == ["description"] and "description" in typing.get_args(ObservationKind)
    assert "dBFS" in found[0].content


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
