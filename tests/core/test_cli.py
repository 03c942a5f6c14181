"""The core command line: graph drawings, the caption command's error handling, JSON logs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from detective.cli.app import cli
from detective.models import MediaInfo
from detective.testing.fakes import ASRTool


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_graph_mermaid_is_the_offline_default() -> None:
    result = invoke("graph")
    assert result.exit_code == 0
    assert "graph TD;" in result.output and "observe --> review;" in result.output
    for node in ("plan", "query", "observe", "synthesize"):
        assert f"{node}({node})" in result.output


def test_graph_ascii(tmp_path: Path) -> None:
    out = tmp_path / "g.txt"
    result = invoke("graph", "--format", "ascii", "--out", str(out))
    assert result.exit_code == 0
    text = out.read_text()
    assert "observe --> review" in text and "review ..> synthesize" in text and "open ..> direct" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz is installed by .ci/run; absent here")
def test_graph_png_with_local_graphviz(tmp_path: Path) -> None:
    out = tmp_path / "g.png"
    result = invoke("graph", "--format", "png", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_graph_png_without_graphviz_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = invoke("graph", "--format", "png", "--out", str(tmp_path / "g.png"))
    assert result.exit_code != 0
    assert "graphviz" in result.output and "mermaid.ink web service is never called" in result.output


def test_caption_of_a_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    result = invoke("caption", str(missing), "--offline")
    assert result.exit_code == 1
    assert str(missing) in result.output


def test_json_logs_carry_clip_round_and_tool(tmp_path: Path) -> None:
    import structlog

    from detective import logs
    from detective.agent.detective import Detective

    log_file = tmp_path / "log.jsonl"
    with log_file.open("w") as stream:
        logs.configure(json=True, level="INFO", stream=stream)
        try:
            media = MediaInfo(source="talk.wav", duration=4.0, has_audio=True)
            Detective(tools=[ASRTool()], planner="rule", captioner="evidence", offline=True).run(
                "talk.wav", clip="clip-7", media=media
            )
        finally:
            structlog.reset_defaults()
            logs.configure()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    observed = [e for e in lines if e["event"] == "observed"]
    assert observed and observed[0]["clip"] == "clip-7" and observed[0]["round"] == 1 and observed[0]["tool"] == "asr"
    assert all("timestamp" in e and "level" in e for e in lines)


def test_doctor_checks_the_installation_and_never_prints_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-doctor-SECRET-42")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    result = invoke("doctor", "--json")
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert checks["python"]["status"] == "ok" and "libavcodec" in checks["ffmpeg"]["detail"]
    assert checks["plugin asr"]["status"] == "ok" and "register_tools" in checks["plugin asr"]["detail"]
    assert "sha256 verified" in checks["tool asr"]["detail"]
    assert checks["role planner"]["detail"].startswith("gpt-4.1-2025-04-14 at 127.0.0.1:9, key set")
    assert "sk-doctor" not in result.output


def test_doctor_fails_on_a_broken_model_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OMNI_DETECTIVE_ASR_MODEL", str(tmp_path))  # a directory without model.bin
    result = invoke("doctor")
    assert result.exit_code == 1
    (line,) = [x for x in result.output.splitlines() if x.startswith("FAIL  tool asr:")]
    assert "model.bin" in line


def test_doctor_live_asks_each_endpoint_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from detective_testserver import ChatServer

    with ChatServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234567890")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OMNI_DETECTIVE_PLANNER_MODEL", "test-model")
        result = invoke("doctor", "--live", "--json")
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert checks["role planner"]["status"] == "ok" and "serves test-model" in checks["role planner"]["detail"]
    assert checks["role captioner"]["status"] == "warn" and "does not list" in checks["role captioner"]["detail"]


def test_doctor_live_checks_the_judge_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from detective_testserver import ChatServer

    with ChatServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234567890")
        monkeypatch.setenv("OMNI_DETECTIVE_JUDGE_BASE_URL", server.url)
        monkeypatch.setenv("OMNI_DETECTIVE_JUDGE_MODEL", "test-model")
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens: the other roles fail
        result = invoke("doctor", "--live", "--json")
    checks = {c["name"]: c for c in json.loads(result.output)}
    judge = checks["role judge"]
    assert judge["status"] == "ok" and "used by evaluator cloze-llm" in judge["detail"], judge
    assert "serves test-model" in judge["detail"]


def test_defaults_work_on_the_default_endpoint_or_say_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OMNI_DETECTIVE_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-1234567890")
    rows = {r["role"]: r for r in json.loads(invoke("roles", "--json").output)}
    assert {role: rows[role]["model"] for role in ("observer", "vision", "judge")} == {
        "observer": "gpt-4o-audio-preview",
        "vision": "gpt-4.1-2025-04-14",
        "judge": "gpt-4.1-2025-04-14",
    }
    assert rows["judge"]["used_by"] == ["evaluator cloze-llm"]
    assert all(rows[r]["endpoint"] == "api.openai.com" for r in rows)
    # direct mode has no model there: it says so at start, naming the role, the model and the endpoint
    from detective.agent.detective import Detective

    with pytest.raises(ValueError, match=r"default model qwen3-omni-flash is not served by api\.openai"):
        Detective(mode="direct")
    checks = {c["name"]: c for c in json.loads(invoke("doctor", "--json").output)}
    assert (
        checks["role direct"]["status"] == "warn"
        and "OMNI_DETECTIVE_DIRECT_BASE_URL" in checks["role direct"]["detail"]
    )
    # elsewhere the omni model stays the default
    monkeypatch.setenv("OPENAI_BASE_URL", "https://dashscope.test/compatible-mode/v1")
    rows = {r["role"]: r for r in json.loads(invoke("roles", "--json").output)}
    assert rows["observer"]["model"] == rows["direct"]["model"] == "qwen3-omni-flash"


def test_roles_lists_models_endpoints_and_users(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OMNI_DETECTIVE_VISION_MODEL", "my-vision-model")
    result = invoke("roles", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["role"]: r for r in json.loads(result.output)}
    assert rows["vision"]["model"] == "my-vision-model" and rows["vision"]["key"] == "missing"
    assert "tool vision_llm" in rows["vision"]["used_by"] and "planner llm" in rows["planner"]["used_by"]
    table = invoke("roles").output.splitlines()
    assert table[0].split() == ["role", "model", "endpoint", "key", "used", "by"]


def test_shell_completion_works_as_documented() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path as P

    doc = (P(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    assert 'eval "$(_OMNI_DETECTIVE_COMPLETE=bash_source omni-detective)"' in doc
    env = {
        **os.environ,
        "COMP_WORDS": "omni-detective do",
        "COMP_CWORD": "1",
        "_OMNI_DETECTIVE_COMPLETE": "bash_complete",
    }
    proc = subprocess.run(
        [str(P(sys.executable).with_name("omni-detective"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.split() == ["plain,doctor"]


def test_max_tokens_option_takes_role_pairs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from detective.cli.app import cli

    result = CliRunner().invoke(cli, ["caption", str(tmp_path / "x.wav"), "--max-tokens", "planner"])
    assert result.exit_code == 2 and "expected ROLE=N" in result.output
    result = CliRunner().invoke(cli, ["caption", str(tmp_path / "missing.wav"), "--max-tokens", "planner=64"])
    assert result.exit_code == 1 and "missing.wav" in result.output


SECRET = "sk-config-SECRET-0123456789abcd"


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a .env and a project TOML file, an XDG config home, a clean environment."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OMNI_DETECTIVE_CONFIG", "OMNI_DETECTIVE_PLANNER_MODEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY={SECRET}\n", encoding="utf-8")
    (tmp_path / "omni-detective.toml").write_text(
        'base_url = "https://project.test/v1"\n[judge]\nmodel = "judge-model"\napi_key = "short-k3y"\n',
        encoding="utf-8",
    )
    return tmp_path


def test_config_prints_each_role_with_origins_and_never_a_key(config_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("OMNI_DETECTIVE_PLANNER_MODEL", "env-planner")
    result = invoke("config", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    planner, judge = report["roles"]["planner"], report["roles"]["judge"]
    assert planner["model"] == {"value": "env-planner", "from": "OMNI_DETECTIVE_PLANNER_MODEL"}
    assert planner["api_key"] == {"value": "sk-…abcd", "from": ".env: OPENAI_API_KEY"}
    assert planner["endpoint"] == {"value": "project.test", "from": "omni-detective.toml: base_url"}
    assert judge["model"]["from"] == "omni-detective.toml: [judge] model" and judge["api_key"]["value"] == "<set>"
    assert planner["max_tokens"] == {"value": 1024, "from": "default"}
    assert [f["exists"] for f in report["files"]] == [True, False, True]  # .env, the XDG file, the project file
    text = invoke("config")
    assert text.exit_code == 0 and "env-planner" in text.output and "OMNI_DETECTIVE_PLANNER_MODEL" in text.output
    for output in (result.output, text.output):
        assert SECRET not in output and "short-k3y" not in output


def test_config_with_a_broken_toml_file_names_it(config_dir: Path) -> None:
    (config_dir / "omni-detective.toml").write_text("[judge\nmodel = 1\n", encoding="utf-8")
    for args in (["config"], ["roles"]):
        result = invoke(*args)
        assert result.exit_code == 1
        assert "omni-detective.toml: not a valid TOML file" in result.output and "line 1" in result.output


def _wav(path: Path, seconds: float = 4.0) -> Path:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x01" * int(16000 * seconds))
    return path


@pytest.fixture
def fake_asr(monkeypatch: pytest.MonkeyPatch):
    """The CLI's Detective uses the fake ``asr`` tool (no model to load)."""
    import detective.agent.detective

    original = detective.agent.detective.Detective

    class WithFakeASR(original):  # type: ignore[misc,valid-type]
        def __init__(self, tools=None, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__([ASRTool()] if tools is None else tools, *args, **kwargs)

    monkeypatch.setattr(detective.agent.detective, "Detective", WithFakeASR)
    yield
    from detective import logs

    logs.reset()


def test_global_log_options_apply_to_caption_and_run(tmp_path: Path, fake_asr, monkeypatch) -> None:
    monkeypatch.delenv("OMNI_DETECTIVE_LOG_LEVEL", raising=False)
    clip = _wav(tmp_path / "talk.wav")
    log = tmp_path / "caption.jsonl"
    result = invoke("--log-json", str(log), "caption", str(clip), "--offline", "--planner", "rule")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e["event"] == "observed" and e["tool"] == "asr" for e in events)

    manifest = tmp_path / "in.jsonl"
    manifest.write_text(json.dumps({"id": "a", "path": str(clip)}) + "\n", encoding="utf-8")
    log = tmp_path / "run.jsonl"
    out = tmp_path / "out.jsonl"
    args = ["--input", str(manifest), "--output", str(out), "--offline", "--no-cache", "--planner", "rule"]
    result = invoke("--log-json", str(log), "run", *args)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e["event"] == "clip done" for e in events) and any(e["event"] == "batch summary" for e in events)

    result = invoke("--log-level", "DEBUG", "run", *args, "--output", str(tmp_path / "out2.jsonl"))
    assert result.exit_code == 0, result.output
    assert "[debug    ] settings read" in result.stderr and "[info     ] clip done" in result.stderr
    result = invoke("--log-level", "debug", "caption", str(clip), "--offline", "--planner", "rule")
    assert "[debug    ] settings read" in result.stderr and "[info     ] observed" in result.stderr
    assert invoke("--log-level", "loud", "config").exit_code == 2


def test_help_imports_no_sdk_and_no_graph_library() -> None:
    import subprocess
    import sys

    probe = (
        "import json, sys\n"
        "from detective.cli.app import main\n"
        "sys.argv = ['omni-detective', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {'openai', 'langgraph', 'httpx'})),"
        " file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cloze" in proc.stdout and "config" in proc.stdout  # plugins' commands are listed too
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []
