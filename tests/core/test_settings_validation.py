"""Every variable and config file that sets a run is checked: nonsense is refused with its name, never ignored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from detective.agent.config import DetectiveConfig
from detective.cli.app import cli
from detective.llm.settings import SettingsError, check_environment

BAD = [
    ("OMNI_DETECTIVE_MAX_ROUNDS", "abc", "must be a whole number, not 'abc'"),
    ("OMNI_DETECTIVE_MAX_ROUNDS", "0", "must be at least 1"),
    ("OMNI_DETECTIVE_BUDGET", "{bad", "must be a JSON object, not '{bad'"),
    ("OMNI_DETECTIVE_BUDGET", '{"max_call": 3}', "has no key 'max_call'"),
    ("OMNI_DETECTIVE_OBSERVER_TIMEOUT", "-1", "must be more than 0"),
    ("OMNI_DETECTIVE_MODE", "foo", "must be 'detective' or 'direct', not 'foo'"),
    ("OMNI_DETECTIVE_CAPTIONER_OPTIONS", "[1]", "must be a JSON object, not [1]"),
    ("OMNI_DETECTIVE_OFFLINE", "maybe", "must be true or false"),
    ("OMNI_DETECTIVE_MODEL_THREADS", "lots", "must be a whole number of at least 1, not 'lots'"),
    ("OMNI_DETECTIVE_ASR_THREADS", "-2", "must be a whole number of at least 1"),
    ("OMNI_DETECTIVE_ASR_WORKERS", "1.5", "must be a whole number of at least 1"),
    ("OMNI_DETECTIVE_OCR_THREADS", "0", "must be a whole number of at least 1"),
    ("OMNI_DETECTIVE_LOG_LEVEL", "verbose", "must be one of debug, info, warning, error, not 'verbose'"),
]


@pytest.mark.parametrize(("variable", "value", "says"), BAD)
@pytest.mark.parametrize("command", ["caption", "run"])
def test_a_bad_variable_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "x.wav"}) + "\n")
    args = ["caption", "x.wav", "--offline"]
    if command == "run":
        args = ["run", "--input", "m.jsonl", "--output", "o.jsonl", "--offline"]
    result = CliRunner().invoke(cli, args, env={variable: value})
    assert result.exit_code == 1, result.output
    assert f"{variable} {says}" in result.output
    assert "Traceback" not in result.output and "x.wav:" not in result.output  # not blamed on the clip
    assert not (tmp_path / "o.jsonl").exists()


def test_good_values_still_pass() -> None:
    env = {
        "OMNI_DETECTIVE_MAX_ROUNDS": "2",
        "OMNI_DETECTIVE_BUDGET": '{"max_calls": 5}',
        "OMNI_DETECTIVE_OFFLINE": "no",
        "OMNI_DETECTIVE_CAPTIONER_OPTIONS": '{"strict_grounding": true}',
    }
    config = DetectiveConfig.from_env(env)
    assert (config.max_rounds, config.budget.max_calls, config.offline) == (2, 5, False)
    check_environment({"OMNI_DETECTIVE_ASR_THREADS": "2", "OMNI_DETECTIVE_LOG_LEVEL": "INFO"})
    with pytest.raises(SettingsError, match="the argument max_rounds must be at least 1"):
        DetectiveConfig.from_env({}, max_rounds=0)


@pytest.mark.parametrize("name", ["omni-detective.toml", ".env"])
@pytest.mark.parametrize("kind", ["binary", "directory"])
def test_an_unreadable_config_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, kind: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    if kind == "binary":
        (tmp_path / name).write_bytes(b"\xff\xfe\x00\x9c binary \x00\xff")
    else:
        (tmp_path / name).mkdir()
    result = CliRunner().invoke(cli, ["caption", "x.wav", "--offline"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    expected = "not UTF-8 text" if kind == "binary" else "is a directory, not a config file"
    assert f"{name}: " in result.output and expected in result.output
