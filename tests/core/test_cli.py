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
    assert "graph TD;" in result.output and "observe --> plan;" in result.output
    for node in ("plan", "query", "observe", "synthesize"):
        assert f"{node}({node})" in result.output


def test_graph_ascii(tmp_path: Path) -> None:
    out = tmp_path / "g.txt"
    result = invoke("graph", "--format", "ascii", "--out", str(out))
    assert result.exit_code == 0
    text = out.read_text()
    assert "observe --> plan" in text and "plan ..> synthesize" in text


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


def test_max_tokens_option_takes_role_pairs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from detective.cli import cli

    result = CliRunner().invoke(cli, ["caption", str(tmp_path / "x.wav"), "--max-tokens", "planner"])
    assert result.exit_code == 2 and "expected ROLE=N" in result.output
    result = CliRunner().invoke(cli, ["caption", str(tmp_path / "missing.wav"), "--max-tokens", "planner=64"])
    assert result.exit_code == 1 and "missing.wav" in result.output
