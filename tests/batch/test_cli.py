"""``omni-detective run``: upstream's flags and their aliases, the default cache, JSON logs, cost and exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from detective_testserver import ChatServer

import detective.agent.detective
from detective.cli.run import run
from detective.testing.tools import ListenTool


@pytest.fixture
def listen_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI's Detective use the ``listen`` tool (no observer plugin is needed for these tests)."""
    original = detective.agent.detective.Detective

    class WithListen(original):  # type: ignore[misc,valid-type]
        def __init__(self, tools=None, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__([ListenTool()] if tools is None else tools, *args, **kwargs)

    monkeypatch.setattr(detective.agent.detective, "Detective", WithListen)


def test_upstream_flags_cache_logs_and_cost(tmp_path: Path, clip_dir: Path, helpers, listen_by_default, monkeypatch):
    records = [{"id": i, "path": str(clip_dir / f"clip{i:02d}.wav")} for i in range(6)]
    manifest = helpers.manifest(tmp_path / "in.jsonl", records)
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"gpt-4.1-2025-04-14": {"prompt": 2.0, "completion": 8.0}}))
    with ChatServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-123456")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OMNI_DETECTIVE_BACKOFF", "0.01")
        out = tmp_path / "out.jsonl"
        log = tmp_path / "log.jsonl"
        args = [
            "--input_path",
            str(manifest),
            "--output_path",
            str(out),
            "--num_workers",
            "3",
            "--planner",
            "llm",
            "--captioner",
            "chat",
            "--price-table",
            str(prices),
            "--log-json",
            str(log),
        ]
        result = CliRunner().invoke(run, args)
        assert result.exit_code == 0, result.output + result.stderr
        assert "6 done, 0 failed" in result.stderr and "cost $" in result.stderr
        assert "no price for: qwen3-omni-flash" in result.stderr
        assert sorted(r["id"] for r in helpers.read(out)) == list(range(6))
        assert (tmp_path / "out.cache.sqlite").exists()
        events = [json.loads(line) for line in log.read_text().splitlines()]
        assert sum(e["event"] == "clip done" for e in events) == 6
        summary = next(e for e in events if e["event"] == "batch summary")
        assert summary["done"] == 6 and summary["cost_usd"] > 0
        assert "sk-test-key-123456" not in log.read_text()
        calls = server.stats.requests

        # Aliases; same cache through --cache-path: no new API call.
        out2 = tmp_path / "again.jsonl"
        args = [
            "--input",
            str(manifest),
            "--output",
            str(out2),
            "--workers",
            "2",
            "--planner",
            "llm",
            "--captioner",
            "chat",
            "--cache-path",
            str(tmp_path / "out.cache.sqlite"),
        ]
        result = CliRunner().invoke(run, args)
        assert result.exit_code == 0, result.stderr
        assert server.stats.requests == calls
        assert len(helpers.read(out2)) == 6

        # --no-cache calls again, in two worker processes; a missing clip fails the run with exit code 1.
        records.append({"id": 99, "path": str(tmp_path / "missing.wav")})
        helpers.manifest(manifest, records)
        out3 = tmp_path / "third.jsonl"
        args = [
            "--input",
            str(manifest),
            "--output",
            str(out3),
            "--planner",
            "llm",
            "--captioner",
            "chat",
            "--no-cache",
            "--processes",
            "2",
        ]
        result = CliRunner().invoke(run, args)
        assert result.exit_code == 1
        assert server.stats.requests > calls
        assert not (tmp_path / "third.cache.sqlite").exists()
        assert "missing.wav" in result.stderr and "6 done, 1 failed" in result.stderr
        (entry,) = helpers.read(tmp_path / "third.errors.jsonl")
        assert entry["id"] == 99 and entry["error_type"] == "MediaError"


def test_missing_manifest_is_a_clear_error(tmp_path: Path, listen_by_default) -> None:
    result = CliRunner().invoke(
        run, ["--input_path", str(tmp_path / "nope.jsonl"), "--output_path", str(tmp_path / "o.jsonl"), "--offline"]
    )
    assert result.exit_code != 0
    assert "nope.jsonl" in result.stderr


def test_limit_takes_n_clips_per_run_and_the_next_run_goes_on(
    tmp_path: Path, clip_dir: Path, helpers, listen_by_default, monkeypatch
) -> None:
    records = [{"id": i, "path": str(clip_dir / f"clip{i:02d}.wav")} for i in range(5)]
    manifest = helpers.manifest(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    args = ["--input", str(manifest), "--output", str(out), "--planner", "rule", "--captioner", "evidence"]
    with ChatServer() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-123456")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        first = CliRunner().invoke(run, [*args, "--limit", "2"])
        assert first.exit_code == 0, first.output + first.stderr
        assert "--limit 2: 2 clips taken" in first.stderr
        assert sorted(r["id"] for r in helpers.read(out)) == [0, 1]
        second = CliRunner().invoke(run, [*args, "--limit", "2"])
        assert second.exit_code == 0, second.output + second.stderr
        assert sorted(r["id"] for r in helpers.read(out)) == [0, 1, 2, 3]


def test_dry_run_reports_and_writes_nothing(tmp_path: Path, clip_dir: Path, helpers, listen_by_default) -> None:
    records = [{"id": i, "path": str(clip_dir / f"clip{i:02d}.wav")} for i in range(3)]
    records.append({"id": 9, "path": str(tmp_path / "gone.wav")})
    (tmp_path / "bad.mp4").write_text("not a video, a text file with a video's name\n")
    records.append({"id": 10, "path": "bad.mp4"})
    records.append(dict(records[1]))  # a duplicate
    manifest = helpers.manifest(tmp_path / "in.jsonl", records)
    with manifest.open("a") as fh:
        fh.write("not json\n")
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": 0, "path": records[0]["path"], "caption": "done"}) + "\n")
    args = ["--input", str(manifest), "--output", str(out), "--offline", "--captioner", "evidence", "--dry-run"]
    result = CliRunner().invoke(run, args)
    assert result.exit_code == 1, result.output  # an invalid line and bad media are problems to fix first
    plan = json.loads(result.stdout)
    assert plan["already_done"] == 1 and plan["duplicates"] == 1 and plan["failed_before"] == 0
    assert [(c["line"], c["id"]) for c in plan["to_caption"]] == [(2, "id=1"), (3, "id=2"), (4, "id=9"), (5, "id=10")]
    assert plan["to_caption"][0]["source"] == records[1]["path"]
    bad = {c["id"]: c["error"] for c in plan["bad_media"]}
    assert set(bad) == {"id=9", "id=10"}
    assert "file not found" in bad["id=9"] and "not a readable media file" in bad["id=10"]
    assert len(plan["invalid"]) == 1
    would = plan["would_run"]
    assert would["captioner"] == "evidence" and would["planner"] == "rule" and would["offline"] is True
    assert list(would["tools"]) == ["listen"] and would["mode"] == "detective"
    assert out.read_text().count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "in.jsonl", "out.jsonl"]  # nothing written
    limited = CliRunner().invoke(run, [*args, "--limit", "1"])
    assert [c["id"] for c in json.loads(limited.stdout)["to_caption"]] == ["id=1"]


def test_permanent_failures_are_skipped_on_resume_unless_retry_failed(tmp_path: Path, clip_dir: Path, helpers):
    (tmp_path / "bad.wav").write_text("not audio\n")
    records = [{"id": 1, "path": str(clip_dir / "clip01.wav")}, {"id": 2, "path": "bad.wav"}]
    manifest = helpers.manifest(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"
    args = ["--input", str(manifest), "--output", str(out), "--offline", "--tools", "audio_events", "--no-progress"]
    first = CliRunner().invoke(run, args)
    assert first.exit_code == 1 and "1 done, 1 failed" in first.stderr
    failed_lines = [line for line in first.stderr.splitlines() if "bad.wav" in line]
    assert len(failed_lines) == 1 and failed_lines[0].startswith("failed: line 2 id=2")  # one line per failure

    again = CliRunner().invoke(run, args)
    assert again.exit_code == 1, again.stderr  # still not every clip is captioned
    assert "skipping 1 clips that failed permanently" in again.stderr and "retrying" not in again.stderr
    assert "0 done, 0 failed" in again.stderr and "failed: line" not in again.stderr
    errors = helpers.read(tmp_path / "out.errors.jsonl")
    assert [(e["id"], e["retryable"]) for e in errors] == [(2, False)]  # still listed
    dry = json.loads(CliRunner().invoke(run, [*args, "--dry-run"]).stdout)
    assert dry["failed_before"] == 1 and dry["to_caption"] == []

    (tmp_path / "bad.wav").unlink()
    (tmp_path / "bad.wav").write_bytes((clip_dir / "clip02.wav").read_bytes())  # fixed
    retried = CliRunner().invoke(run, [*args, "--retry-failed"])
    assert retried.exit_code == 0, retried.stderr
    assert "1 done, 0 failed" in retried.stderr
    assert sorted(r["id"] for r in helpers.read(out)) == [1, 2] and not (tmp_path / "out.errors.jsonl").exists()


def test_a_second_run_on_the_same_output_refuses_naming_the_first(tmp_path: Path, manifest: Path) -> None:
    from detective.jobs import OutputLock

    out = tmp_path / "out.jsonl"
    with OutputLock(tmp_path / "out.lock", out):  # a run in progress
        result = CliRunner().invoke(run, ["--input", str(manifest), "--output", str(out), "--offline"])
    assert result.exit_code == 1
    assert "is being written by another run" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert not out.exists() or out.read_text() == ""


@pytest.mark.parametrize("executor", ["processes", "ray"])
def test_executor_flags_offline_run(tmp_path: Path, clip_dir: Path, helpers, executor: str, request) -> None:
    if executor == "ray":
        request.getfixturevalue("ray_session")
    records = [{"id": i, "path": str(clip_dir / f"clip{i:02d}.wav")} for i in range(4)]
    manifest = helpers.manifest(tmp_path / "m.jsonl", records)
    out = tmp_path / "out.jsonl"
    args = ["--input", str(manifest), "--output", str(out), "--offline", "--tools", "audio_events"]
    args += ["--executor", executor, "--processes", "2", "--ray-actors", "2", "--ray-actor-cpus", "0"]
    result = CliRunner().invoke(run, args)
    assert result.exit_code == 0, result.stderr
    assert "4 done, 0 failed" in result.stderr
    records = helpers.read(out)
    assert sorted(r["id"] for r in records) == [0, 1, 2, 3]
    assert all(r["provenance"]["tools"] == {"audio_events": r["provenance"]["tools"]["audio_events"]} for r in records)
    assert (tmp_path / "out.cache.sqlite").exists()


def test_dry_run_names_a_fifo_by_kind(tmp_path: Path, helpers, listen_by_default) -> None:
    import os

    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)
    manifest = helpers.manifest(tmp_path / "in.jsonl", [{"id": 1, "path": str(fifo)}])
    args = ["--input", str(manifest), "--output", str(tmp_path / "o.jsonl"), "--offline", "--dry-run"]
    result = CliRunner().invoke(run, [*args, "--captioner", "evidence"])
    assert result.exit_code == 1, result.output
    plan = json.loads(result.stdout)
    assert len(plan["bad_media"]) == 1  # not "file not found": named by kind
    assert plan["bad_media"][0]["error"].startswith(f"{fifo}: is a FIFO")


@pytest.mark.parametrize(("flag", "expected"), [([], None), (["--open-ahead", "0"], 0), (["--open-ahead", "3"], 3)])
def test_open_ahead_reaches_the_batch(
    tmp_path: Path, clip_dir: Path, helpers, monkeypatch: pytest.MonkeyPatch, flag: list[str], expected: int | None
) -> None:
    import detective.cli.run as cli_run
    from detective.agent.batch import BatchConfig, run_batch

    seen: list[BatchConfig] = []

    def spy(config: BatchConfig, factory: Any) -> Any:
        seen.append(config)
        return run_batch(config, factory)

    monkeypatch.setattr(cli_run, "run_batch", spy)
    records = [{"id": i, "path": str(clip_dir / f"clip{i:02d}.wav")} for i in range(3)]
    manifest = helpers.manifest(tmp_path / "m.jsonl", records)
    args = ["--input", str(manifest), "--output", str(tmp_path / "out.jsonl"), "--offline", "--tools", "audio_events"]
    result = CliRunner().invoke(run, [*args, *flag])
    assert result.exit_code == 0, result.stderr
    assert "3 done, 0 failed" in result.stderr
    assert [c.open_ahead for c in seen] == [expected]
    assert CliRunner().invoke(run, [*args, "--open-ahead", "-1"]).exit_code == 2
