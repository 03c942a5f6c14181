"""The core command line: graph drawings, the caption command's error handling, JSON logs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from detective.cli import cli
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
    from detective.detective import Detective

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

    from detective.cli import cli

    result = CliRunner().invoke(cli, ["caption", str(tmp_path / "x.wav"), "--max-tokens", "planner"])
    assert result.exit_code == 2 and "expected ROLE=N" in result.output
    result = CliRunner().invoke(cli, ["caption", str(tmp_path / "missing.wav"), "--max-tokens", "planner=64"])
    assert result.exit_code == 1 and "missing.wav" in result.output
