"""40 clips against the loopback server with 30% injected faults: every clip ends captioned or recorded."""

from __future__ import annotations

import io
from pathlib import Path

from detective_testserver import ChatServer, Faults

from detective.agent.batch import BatchConfig, run_batch


def test_faults_every_clip_accounted_and_calls_bounded(tmp_path: Path, manifest: Path, helpers, executor: dict) -> None:
    # Fault-free reference count of calls.
    with ChatServer() as clean:
        out = tmp_path / "clean.jsonl"
        summary = run_batch(
            BatchConfig(manifest, out, workers=10), helpers.factory(helpers.settings(clean.url)), io.StringIO()
        )
        assert summary.done == 40 and summary.failed == 0
        baseline = clean.stats.requests
    assert baseline >= 40 * 4  # planner x3, observer x2, captioner x1 per clip in the scripted script

    faults = Faults(rate=0.3, retry_after=0.01, timeout_sleep=0.8)
    with ChatServer(faults=faults, seed=3) as server:
        settings = helpers.settings(server.url, timeout=0.4)
        out = tmp_path / "faulty.jsonl"
        stream = io.StringIO()
        config = BatchConfig(manifest, out, workers=10, retries=1, **executor)
        summary = run_batch(config, helpers.factory(settings), stream)
        stats = server.stats
    assert set(stats.faults) == {"429", "500", "timeout", "malformed", "truncated"}
    assert 0.2 < sum(stats.faults.values()) / stats.requests < 0.4

    done = {r["id"]: r for r in helpers.read(out)}
    errors = {e["id"]: e for e in helpers.read(tmp_path / "faulty.errors.jsonl")}
    assert not set(done) & set(errors)
    assert set(done) | set(errors) == set(range(40))
    assert summary.done == len(done) and summary.failed == len(errors)
    for rec in done.values():
        assert rec["caption"] and rec["usage"]["llm_calls"] >= 1
    for entry in errors.values():
        assert f"clip{entry['id']:02d}.wav" in entry["error"] or f"id={entry['id']}" in entry["error"]
        assert entry["error_type"] and entry["attempts"] >= 1
    assert summary.exit_code == (1 if errors else 0)
    assert stats.requests <= 3 * baseline, (stats.requests, baseline)
