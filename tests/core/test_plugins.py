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
from detective.agent.detective import Detective
from detective.lazy import Lazy, lazy_exports
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


def test_an_unknown_name_in_the_allow_list_is_reported(with_plugins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNI_DETECTIVE_LOAD_PLUGINS", "od_good,od_goood")
    plugins.reset()
    reg = plugins.get_registry()
    assert "od_loudness" in reg.tools
    assert reg.failures["od_goood"].startswith("not installed: OMNI_DETECTIVE_LOAD_PLUGINS names 'od_goood'")
    assert "od_good" in reg.failures["od_goood"] and "od_good" not in reg.failures
    described = {entry["name"]: entry for entry in plugins.describe()}
    assert described["od_goood"]["error"] == reg.failures["od_goood"]


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
    assert data["detective.default_plugins.planners"]["planners"] == ["hybrid", "llm", "rule"]


def test_plugin_command_is_added(with_plugins: None) -> None:
    import click

    group = click.Group("omni-detective")
    failures = plugins.call_each("register_commands", cli=group)
    assert failures == {}
    result = CliRunner().invoke(group, ["od-hello"])
    assert result.exit_code == 0, result.output
    assert "hello from od_good" in result.output
    assert "cloze" in group.commands  # the bundled cloze plugin adds its group through the same hook


def _install_on_the_fly(site: Path, dist: str, modules: dict[str, str]) -> None:
    """Install a distribution by hand: its modules and a ``.dist-info`` with ``omni_detective`` entry points."""
    info = site / f"{dist.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n", encoding="utf-8")
    points = "".join(f"{name} = {name}\n" for name in modules)
    (info / "entry_points.txt").write_text(f"[omni_detective]\n{points}", encoding="utf-8")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source, encoding="utf-8")


EXITS_AT_IMPORT = '"""A plugin that ends the process when imported."""\nimport sys\n\nsys.exit(3)\n'
EXITS_IN_HOOK = (
    '"""A plugin that ends the process when asked for its tools."""\nimport sys\n\nimport detective\n\n\n'
    "@detective.hookimpl\ndef register_tools(register):\n    sys.exit()\n"
)


@pytest.fixture
def exiting_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    _install_on_the_fly(site, "od-exits", {"od_exits_at_import": EXITS_AT_IMPORT, "od_exits_in_hook": EXITS_IN_HOOK})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("OMNI_DETECTIVE_LOAD_PLUGINS", raising=False)
    plugins.reset()
    yield site
    for name in ("od_exits_at_import", "od_exits_in_hook"):
        sys.modules.pop(name, None)
    plugins.reset()


def test_a_plugin_calling_sys_exit_is_reported_like_any_failing_plugin(exiting_plugins: Path) -> None:
    reg = plugins.get_registry()
    assert reg.failures["od_exits_at_import"] == "SystemExit: called sys.exit(3) at import"
    assert reg.failures["od_exits_in_hook"] == "register_tools: SystemExit: called sys.exit() in register_tools"
    assert "rule" in reg.planners and "asr" in reg.tools  # everything else loaded
    described = {p["name"]: p for p in plugins.describe()}
    assert described["od_exits_at_import"]["distribution"] == "od-exits"
    assert described["od_exits_at_import"]["version"] == "0.0.1"


def test_commands_survive_a_plugin_calling_sys_exit(exiting_plugins: Path) -> None:
    env = {**__import__("os").environ, "PYTHONPATH": str(exiting_plugins)}
    proc = subprocess.run(
        [sys.executable, "-m", "detective", "plugins"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    data = {p["name"]: p for p in json.loads(proc.stdout)}
    assert data["od_exits_at_import"]["error"] == "SystemExit: called sys.exit(3) at import"
    assert "plugin failed to load" in proc.stderr and "od-exits" in proc.stderr


def test_ctrl_c_in_a_plugin_is_not_swallowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _install_on_the_fly(site, "od-interrupts", {"od_interrupts": "raise KeyboardInterrupt\n"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("OMNI_DETECTIVE_LOAD_PLUGINS", raising=False)
    plugins.reset()
    try:
        with pytest.raises(KeyboardInterrupt):
            plugins.get_registry()
    finally:
        sys.modules.pop("od_interrupts", None)
        plugins.reset()


def test_lazy_factory_imports_its_target_on_first_use() -> None:
    lazy = Lazy("json:JSONDecoder")
    assert lazy._target is None and "json:JSONDecoder" in repr(lazy)
    assert lazy().decode("[1]") == [1] and lazy.load() is __import__("json").JSONDecoder
    assert Lazy("detective.agent.rule_planner:RulePlanner").name == "rule"  # attributes read through
    with pytest.raises(ValueError, match=r"package\.module:Name"):
        Lazy("json.JSONDecoder")


def test_lazy_exports_import_a_name_on_first_read() -> None:
    getattr_ = lazy_exports("pkg", {"json.decoder": ["JSONDecoder"]})
    assert getattr_("JSONDecoder") is __import__("json").JSONDecoder
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'nope'"):
        getattr_("nope")
