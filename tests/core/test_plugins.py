"""The plugin system with real installed distributions: entry points, isolation, allow-list, tracing, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from detective import plugins
from detective.detective import Detective
from detective.models import MediaInfo

DISTS = Path(__file__).parent / "plugin_dists"


@pytest.fixture(scope="session")
def installed_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip-install the three test plugin distributions into a private site directory."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            *(str(p) for p in sorted(DISTS.iterdir())),
        ],
        check=True,
    )
    return target


@pytest.fixture
def with_plugins(installed_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(installed_plugins))
    monkeypatch.delenv("OMNI_DETECTIVE_LOAD_PLUGINS", raising=False)
    plugins.reset()
    yield
    for name in ("od_good_plugin", "od_broken_import", "od_broken_register"):
        sys.modules.pop(name, None)
    plugins.reset()


def test_installed_plugin_registers_and_broken_ones_are_isolated(with_plugins: None) -> None:
    reg = plugins.get_registry()
    assert reg.tools["od_loudness"].plugin == "od_good"
    assert reg.tool("loudness").name == "od_loudness"  # alias
    assert "careful" in reg.planners
    assert "ImportError" in reg.failures["od_broken_import"]
    assert "od_broken_register cannot find its model" in reg.failures["od_broken_register"]
    # built-ins went through the same hooks
    assert {"rule", "llm"} <= set(reg.planners) and {"evidence", "chat"} <= set(reg.captioners)


def test_plugin_tool_runs_in_a_detective(with_plugins: None) -> None:
    media = MediaInfo(source="a.wav", duration=3.0, has_audio=True)
    result = Detective(tools=["loudness"], planner="careful", captioner="evidence", offline=True).run(
        "a.wav", media=media
    )
    assert [o.content for o in result.evidence.observations] == ["loud"]
    assert result.provenance.tools == {"od_loudness": "1.2.3"}


def test_allow_list_restricts_what_loads(with_plugins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI_DETECTIVE_LOAD_PLUGINS", "od_good")
    plugins.reset()
    reg = plugins.get_registry()
    assert "od_loudness" in reg.tools
    assert "od_broken_import" not in reg.failures
    monkeypatch.setenv("OMNI_DETECTIVE_LOAD_PLUGINS", "")
    plugins.reset()
    assert "od_loudness" not in plugins.get_registry().tools
    assert "rule" in plugins.get_registry().planners  # built-ins always load


def test_trace_prints_hook_calls(with_plugins: None, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("OMNI_DETECTIVE_TRACE_PLUGINS", "1")
    plugins.reset()
    plugins.get_registry()
    err = capsys.readouterr().err
    assert "register_tools -> od_good" in err
    assert "register_planners -> detective.default_plugins.planners" in err


def test_plugins_command_prints_json(with_plugins: None) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "detective", "plugins"],
        capture_output=True,
        text=True,
        check=True,
        env={**__import__("os").environ, "PYTHONPATH": str(Path(sys.path[0]))},
    )
    data = {p["name"]: p for p in json.loads(out.stdout)}
    good = data["od_good"]
    assert good["version"] == "1.2.3" and good["distribution"] == "od-good-plugin"
    assert good["tools"] == ["od_loudness"] and "register_commands" in good["hooks"]
    assert "ImportError" in data["od_broken_import"]["error"]
    assert data["detective.default_plugins.planners"]["planners"] == ["llm", "rule"]


def test_plugin_command_is_added(with_plugins: None) -> None:
    import click

    group = click.Group("omni-detective")
    failures = plugins.call_each("register_commands", cli=group)
    assert failures == {}
    result = CliRunner().invoke(group, ["od-hello"])
    assert result.exit_code == 0, result.output
    assert "hello from od_good" in result.output
    assert "cloze" in group.commands  # the bundled cloze plugin adds its group through the same hook
