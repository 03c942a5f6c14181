"""The batch pipeline's pieces, with a fake Detective: keys, sources, repair, retries, errors file, summary."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

from detective.agent.batch import (
    BatchConfig,
    arun_batch,
    estimate_cost,
    media_source,
    output_key,
    read_manifest,
    record_key,
    repair_output,
    sidecar_path,
)
from detective.llm.client import LLMError
from detective.media import MediaError
from detective.models import RunResult, Usage
from detective.testing.fakes import run_result


class FakeDetective:
    """Captions instantly; fails as scripted per source: ``{source: [exception or None, ...]}`` per attempt."""

    def __init__(self, script: dict[str, list[Exception | None]] | None = None, delay: float = 0.0) -> None:
        self.script = script or {}
        self.calls: list[str] = []
        self.delay = delay

    async def arun(self, source: str, *, clip: str | None = None) -> RunResult:
        self.calls.append(source)
        await asyncio.sleep(self.delay)
        plan = self.script.get(Path(source).name, [])
        attempt = self.calls.count(source) - 1
        if attempt < len(plan) and plan[attempt] is not None:
            raise plan[attempt]
        return run_result(source, caption_markdown=f"## Storyline\ncaption of {Path(source).name}")


def run(config: BatchConfig, fake: FakeDetective) -> tuple[Any, str]:
    stream = io.StringIO()
    summary = asyncio.run(arun_batch(config, lambda: fake, stream))
    return summary, stream.getvalue()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_record_keys() -> None:
    assert record_key({"id": 1, "url": "u"}) == "id:1"
    assert record_key({"id": "1", "url": "u"}) == 'id:"1"'
    assert record_key({"uuid": 7, "video_path": "v"}) == "uuid:7"
    a = record_key({"path": "a.wav", "x": 1})
    assert a.startswith("sha1:") and a == record_key({"x": 1, "path": "a.wav"}) != record_key({"path": "b.wav"})
    out = {"path": "a.wav", "x": 1, "caption": "c", "usage": {}, "provenance": {"package_version": "0"}}
    assert output_key(out) == a
    assert output_key({"provenance": {"record_key": "id:9"}}) == "id:9"


def test_media_sources(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert media_source({"url": "https://x/a.wav"}, tmp_path, None) == "https://x/a.wav"
    assert media_source({"path": "a.wav"}, tmp_path, None) == str(tmp_path / "a.wav")
    assert media_source({"video_path": "./videos/1.mp4"}, tmp_path, root) == str(root / "videos/1.mp4")
    assert media_source({"path": "/abs/a.wav"}, tmp_path, root) == "/abs/a.wav"
    with pytest.raises(ValueError, match="no media field"):
        media_source({"id": 1}, tmp_path, None)
    with pytest.raises(ValueError, match="must be a string"):
        media_source({"path": 3}, tmp_path, None)


def test_sidecar_paths() -> None:
    assert sidecar_path(Path("/d/out.jsonl"), ".errors.jsonl") == Path("/d/out.errors.jsonl")
    assert sidecar_path(Path("/d/out"), ".cache.sqlite") == Path("/d/out.cache.sqlite")


def test_read_manifest_reports_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"id": 1, "path": "a.wav"}\n\n{"id": 2,\n[1, 2]\n{"id": 3}\n\xff\xfe{"id": 4}\n')
    got = list(read_manifest(path))
    assert [type(g).__name__ for g in got] == ["Item", "Invalid", "Invalid", "Invalid", "Invalid"]
    errors = {g.line: g.error for g in got if type(g).__name__ == "Invalid"}
    assert "invalid JSON" in errors[3] and "JSON object" in errors[4]
    assert "no media field" in errors[5] and "not UTF-8" in errors[6]


def test_repair_truncates_torn_line(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    good = json.dumps({"id": 1, "caption": "c", "provenance": {"record_key": "id:1"}}) + "\n"
    out.write_text(good + '{"id": 2, "caption": "half a li')
    scan = repair_output(out)
    assert scan.done == {"id:1"} and scan.torn_bytes > 0
    assert out.read_text() == good
    assert repair_output(out).torn_bytes == 0


def test_run_writes_each_clip_once_and_resumes(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "path": f"c{i}.wav", "keep": i}) + "\n" for i in range(6)))
    out = tmp_path / "o.jsonl"
    fake = FakeDetective({"c2.wav": [MediaError("c2.wav: does not exist")]})
    summary, text = run(BatchConfig(manifest, out, workers=3), fake)
    assert (summary.done, summary.failed, summary.exit_code) == (5, 1, 1)
    records = lines(out)
    assert sorted(r["id"] for r in records) == [0, 1, 3, 4, 5]
    rec = records[0]
    assert rec["keep"] == rec["id"] and rec["caption"].startswith("## Storyline")
    assert {"caption_struct", "omni_detective_trajectory", "evidence", "usage", "provenance", "stop_reason"} <= set(rec)
    assert rec["usage"]["llm_calls"] == 1 and rec["provenance"]["record_key"] == f"id:{rec['id']}"
    errors = lines(tmp_path / "o.errors.jsonl")
    assert [e["key"] for e in errors] == ["id:2"]
    assert errors[0]["error_type"] == "MediaError" and "does not exist" in errors[0]["error"]
    assert errors[0]["attempts"] == 1 and errors[0]["time"]
    assert (
        "failed: line 3 id=2 (" in text and "c2.wav): MediaError: c2.wav: does not exist" in text and "1 failed" in text
    )
    # a missing clip is a permanent failure: the next run skips it (still listed, still exit 1)
    skipped, _ = run(BatchConfig(manifest, out, workers=3), FakeDetective())
    assert (skipped.done, skipped.failed_before, skipped.exit_code) == (0, 1, 1)
    assert [e["key"] for e in lines(tmp_path / "o.errors.jsonl")] == ["id:2"]
    # with retry_failed only the failed clip is captioned again; now it succeeds and the errors file disappears
    fake2 = FakeDetective()
    summary2, _ = run(BatchConfig(manifest, out, workers=3, retry_failed=True), fake2)
    assert [Path(s).name for s in fake2.calls] == ["c2.wav"]
    assert (summary2.done, summary2.skipped, summary2.failed, summary2.exit_code) == (1, 5, 0, 0)
    assert sorted(r["id"] for r in lines(out)) == list(range(6))
    assert not (tmp_path / "o.errors.jsonl").exists()


def test_retryable_errors_are_retried_within_bounds(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "path": f"c{i}.wav"}) + "\n" for i in range(3)))
    flaky = LLMError("planner model m at h failed: 503", status=503, retryable=True)
    fatal = LLMError("planner model m at h failed: 401", status=401, retryable=False)
    fake = FakeDetective({"c0.wav": [flaky], "c1.wav": [flaky, flaky, flaky], "c2.wav": [fatal]})
    summary, _ = run(BatchConfig(manifest, tmp_path / "o.jsonl", workers=2, retries=1), fake)
    names = [Path(s).name for s in fake.calls]
    assert names.count("c0.wav") == 2 and names.count("c1.wav") == 2 and names.count("c2.wav") == 1
    assert (summary.done, summary.failed) == (1, 2)
    errors = {e["key"]: e for e in lines(tmp_path / "o.errors.jsonl")}
    assert errors["id:1"]["attempts"] == 2 and errors["id:1"]["retryable"] is True
    assert errors["id:2"]["attempts"] == 1 and errors["id:2"]["retryable"] is False


def test_errors_file_lists_only_current_failures(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "path": f"c{i}.wav"}) + "\n" for i in range(3)))
    out = tmp_path / "o.jsonl"
    err = tmp_path / "o.errors.jsonl"
    boom = MediaError("c.wav: truncated")
    run(BatchConfig(manifest, out), FakeDetective({"c0.wav": [boom], "c1.wav": [boom]}))
    assert sorted(e["key"] for e in lines(err)) == ["id:0", "id:1"]
    run(BatchConfig(manifest, out, retry_failed=True), FakeDetective({"c1.wav": [boom]}))
    assert [e["key"] for e in lines(err)] == ["id:1"]  # rewritten, deduplicated


def test_summary_counts_cost(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "path": f"c{i}.wav"}) + "\n" for i in range(4)))
    prices = {"m": {"prompt": 2.0, "completion": 8.0}}
    summary, text = run(BatchConfig(manifest, tmp_path / "o.jsonl", price_table=prices), FakeDetective())
    assert summary.usage.llm_calls == 4 and summary.usage.total_tokens == 480
    assert summary.cost_usd == pytest.approx(4 * (100 * 2.0 + 20 * 8.0) / 1e6)
    assert lines(tmp_path / "o.jsonl")[0]["usage"]["cost_usd"] == pytest.approx((100 * 2.0 + 20 * 8.0) / 1e6)
    assert "cost $" in text and "4 done" in text
    usage = Usage()
    usage.add_model("unpriced", 10, 10)
    assert estimate_cost(usage, prices) == 0.0 and estimate_cost(usage, None) is None


def test_progress_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "path": f"c{i}.wav"}) + "\n" for i in range(4)))
    config = BatchConfig(manifest, tmp_path / "o.jsonl", workers=1, progress=True, progress_interval=0.01)
    _, text = run(config, FakeDetective(delay=0.02))
    assert "\r" in text and "4/4" in text and "ETA" in text and "in flight" in text and "480 tokens" in text
