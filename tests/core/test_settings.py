"""Settings from arguments, the environment, a ``.env`` file and TOML files: precedence, origins, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from detective.llm.settings import RoleSettings, Settings, SettingsError, config_paths, describe, load, redact_key

KEY = "sk-from-the-environment-0123456789wxyz"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A user config, a project config and a .env, each setting the planner's model and something of its own."""
    user = _write(
        tmp_path / "user.toml",
        'timeout = 30\nbase_url = "https://user.test/v1"\n\n[planner]\nmodel = "from-user-toml"\nmax_tokens = 300\n'
        '\n[judge]\nmodel = "judge-from-user-toml"\ncontext_size = 8192\n',
    )
    project = _write(
        tmp_path / "omni-detective.toml", '[planner]\nmodel = "from-project-toml"\n\n[vision]\ntimeout = 9.5\n'
    )
    dotenv = _write(
        tmp_path / ".env",
        "OMNI_DETECTIVE_PLANNER_MODEL=from-dotenv\nOMNI_DETECTIVE_CAPTIONER_MODEL=captioner-from-dotenv\n"
        "OMNI_DETECTIVE_MAX_ATTEMPTS=2\n",
    )
    return {"user": user, "project": project, "dotenv": dotenv}


def test_precedence_arguments_env_dotenv_project_user_defaults(files: dict[str, Path]) -> None:
    def settings(env: dict[str, str], **overrides: object) -> Settings:
        return Settings.from_env(
            env, dotenv=files["dotenv"], config_files=[files["user"], files["project"]], **overrides
        )

    s = settings({"OMNI_DETECTIVE_PLANNER_MODEL": "from-env"})
    assert s.endpoint("planner").model == "from-env"  # env > .env > project > user
    assert settings({}).endpoint("planner").model == "from-dotenv"  # .env > TOML
    files["dotenv"].write_text("", encoding="utf-8")
    assert settings({}).endpoint("planner").model == "from-project-toml"  # project file > user file
    files["project"].write_text("", encoding="utf-8")
    assert settings({}).endpoint("planner").model == "from-user-toml"
    assert Settings.from_env({}).endpoint("planner").model == "gpt-4.1-2025-04-14"  # defaults
    # role tables merge field by field across sources; shared values fall through to every role
    s = settings({"OMNI_DETECTIVE_PLANNER_BASE_URL": "https://env.test/v1"})
    planner = s.endpoint("planner")
    assert (planner.model, planner.host, planner.max_tokens, planner.timeout) == (
        "from-user-toml",
        "env.test",
        300,
        30.0,
    )
    assert s.endpoint("judge").context_size == 8192 and s.endpoint("captioner").host == "user.test"
    assert settings({}, timeout=5.0, offline=True).endpoint("planner").timeout == 5.0  # arguments win


def test_origins_say_where_each_value_came_from(files: dict[str, Path]) -> None:
    env = {"OPENAI_API_KEY": KEY, "OMNI_DETECTIVE_VISION_MODEL": "vision-env"}
    loaded = load(env, dotenv=files["dotenv"], config_files=[files["user"], files["project"]])
    roles = describe(loaded, ["planner", "vision", "judge", "captioner"])["roles"]
    assert roles["planner"]["model"] == {
        "value": "from-dotenv",
        "from": f"{files['dotenv']}: OMNI_DETECTIVE_PLANNER_MODEL",
    }
    assert roles["planner"]["max_tokens"]["from"] == f"{files['user']}: [planner] max_tokens"
    assert roles["planner"]["timeout"] == {"value": 30.0, "from": f"{files['user']}: timeout"}
    assert roles["planner"]["max_attempts"]["from"] == f"{files['dotenv']}: OMNI_DETECTIVE_MAX_ATTEMPTS"
    assert roles["planner"]["backoff"] == {"value": 0.5, "from": "default"}
    assert roles["vision"]["model"]["from"] == "OMNI_DETECTIVE_VISION_MODEL"
    assert roles["vision"]["timeout"]["from"] == f"{files['project']}: [vision] timeout"
    assert roles["judge"]["api_key"] == {"value": "sk-…wxyz", "from": "OPENAI_API_KEY"}
    assert roles["captioner"]["endpoint"] == {"value": "user.test", "from": f"{files['user']}: base_url"}


def test_bad_toml_names_the_file_and_where(tmp_path: Path) -> None:
    broken = _write(tmp_path / "config.toml", '[planner]\nmodel = "unterminated\n')
    with pytest.raises(SettingsError, match=r"config\.toml: not a valid TOML file \(.*line 2"):
        Settings.from_env({}, config_files=[broken])
    typo = _write(tmp_path / "typo.toml", "timout = 3\n")
    with pytest.raises(SettingsError, match=r"typo\.toml: unknown setting 'timout'"):
        Settings.from_env({}, config_files=[typo])
    role_typo = _write(tmp_path / "role.toml", "[planner]\nmodle = 'x'\n")
    with pytest.raises(SettingsError, match=r"role\.toml: \[planner\] has no setting 'modle'"):
        Settings.from_env({}, config_files=[role_typo])
    wrong_type = _write(tmp_path / "type.toml", "[judge]\nmax_tokens = 'lots'\n")
    with pytest.raises(SettingsError, match=r"type\.toml: \[judge\] max_tokens must be a whole number, not 'lots'"):
        Settings.from_env({}, config_files=[wrong_type])


def test_errors_never_echo_a_key(tmp_path: Path) -> None:
    secret = "sk-SECRET-in-a-list-0123456789"
    path = _write(tmp_path / "k.toml", f'api_key = ["{secret}"]\n')
    with pytest.raises(SettingsError) as info:
        Settings.from_env({}, config_files=[path])
    assert "api_key must be text" in str(info.value) and secret not in str(info.value)


def test_environment_errors_name_the_variable() -> None:
    with pytest.raises(ValueError, match="OMNI_DETECTIVE_OFFLINE must be true or false, not 'maybe'"):
        Settings.from_env({"OMNI_DETECTIVE_OFFLINE": "maybe"})
    with pytest.raises(ValueError, match="OMNI_DETECTIVE_TIMEOUT must be more than 0"):
        Settings.from_env({"OMNI_DETECTIVE_TIMEOUT": "0"})
    assert Settings.from_env({"OMNI_DETECTIVE_OFFLINE": "0"}).offline is False
    assert Settings.from_env({"OMNI_DETECTIVE_OFFLINE": "yes"}).offline is True


def test_config_file_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_paths({"XDG_CONFIG_HOME": "/x"}) == [
        Path("/x/omni-detective/config.toml"),
        Path("omni-detective.toml"),
    ]
    assert config_paths({"OMNI_DETECTIVE_CONFIG": "/etc/od.toml", "XDG_CONFIG_HOME": "/x"})[0] == Path("/etc/od.toml")
    assert config_paths({})[0] == Path.home() / ".config" / "omni-detective" / "config.toml"
    # the process environment: ./.env and ./omni-detective.toml of the working directory, the XDG file
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("OMNI_DETECTIVE_CONFIG", raising=False)
    monkeypatch.delenv("OMNI_DETECTIVE_JUDGE_MODEL", raising=False)
    (tmp_path / "xdg" / "omni-detective").mkdir(parents=True)
    _write(tmp_path / "xdg" / "omni-detective" / "config.toml", '[judge]\nmodel = "xdg-judge"\n')
    assert Settings.from_env().endpoint("judge").model == "xdg-judge"
    _write(tmp_path / ".env", "OMNI_DETECTIVE_JUDGE_MODEL=dotenv-judge\n")
    assert Settings.from_env().endpoint("judge").model == "dotenv-judge"
    monkeypatch.setenv("OMNI_DETECTIVE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match=r"OMNI_DETECTIVE_CONFIG names .*missing\.toml, which is not a file"):
        Settings.from_env()


def test_arguments_keep_the_python_api() -> None:
    s = Settings.from_env({}, api_key="sk-test", base_url="https://a.test/v1", roles={"judge": RoleSettings(model="j")})
    assert s.endpoint("judge").model == "j" and s.endpoint("judge").host == "a.test" and s.online("judge")
    assert Settings.from_env({"OPENAI_API_KEY": "sk-x"}, offline=True).endpoint("planner").api_key is None
    assert Settings(api_key="k").endpoint("planner").available  # the model itself reads no environment


def test_redact_key_and_host() -> None:
    from pydantic import SecretStr

    assert redact_key(SecretStr(KEY)) == "sk-…wxyz"
    assert redact_key(SecretStr("short-key")) == "<set>"
    assert redact_key(SecretStr("")) is None and redact_key(None) is None
    assert Settings(base_url="https://user:pass@host.test:8443/v1").endpoint("planner").host == "host.test:8443"
