"""The manifest checkpoint: a resume starts after the settled prefix, never past a failed or invalid line."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from detective.jobs import Item, Job, JobConfig, LocalExecutor


def _manifest(path: Path, n: int, bad: int | None = None) -> Path:
    lines = [json.dumps({"id": i}) if i != bad else "{broken" for i in range(n)]
    path.write_text("".join(line + "\n" for line in lines))
    return path


class ScriptedFailure(Exception):
    """A retryable failure: the next run tries its item again (a permanent one would be skipped)."""

    retryable = True


def _run(manifest: Path, out: Path, fail: set[int] = frozenset()) -> tuple[Any, list[int]]:  # type: ignore[assignment]
    seen: list[int] = []

    def make() -> Any:
        async def work(item: Item) -> dict[str, Any]:
            seen.append(item.record["id"])
            if item.record["id"] in fail:
                raise ScriptedFailure("scripted failure")
            return {**item.record, "done": True}

        return work

    config = JobConfig(manifest, out, workers=3, added_fields=("done",))
    summary = asyncio.run(Job(config, LocalExecutor(make, retries=0), io.StringIO()).run())
    return summary, seen


def test_resume_starts_after_the_settled_prefix(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "m.jsonl", 50)
    out = tmp_path / "o.jsonl"
    summary, _ = _run(manifest, out, fail={30})
    assert (summary.done, summary.failed) == (49, 1)
    checkpoint = json.loads((tmp_path / "o.checkpoint.json").read_text())
    assert checkpoint["line"] == 30  # lines 1..30 (ids 0..29) settled; id 30 failed and stops the prefix
    # the next run reads only from line 31 on: ids 0..29 are not even parsed
    lines = manifest.read_text().splitlines(keepends=True)
    assert checkpoint["offset"] == sum(len(x) for x in lines[:30])
    summary, seen = _run(manifest, out)
    assert seen == [30] and summary.done == 1 and summary.skipped == 49 and summary.exit_code == 0
    assert sorted(json.loads(x)["id"] for x in out.read_text().splitlines()) == list(range(50))
    assert json.loads((tmp_path / "o.checkpoint.json").read_text())["line"] == 50


def test_invalid_lines_stop_the_prefix_and_stay_reported(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "m.jsonl", 20, bad=5)
    out = tmp_path / "o.jsonl"
    first, _ = _run(manifest, out)
    again, seen = _run(manifest, out)
    assert first.invalid == again.invalid == 1 and again.exit_code == 1 and seen == []
    assert json.loads((tmp_path / "o.checkpoint.json").read_text())["line"] == 5


def test_a_changed_manifest_or_output_ignores_the_checkpoint(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path / "m.jsonl", 10)
    out = tmp_path / "o.jsonl"
    _run(manifest, out)
    _manifest(tmp_path / "n.jsonl", 12).replace(manifest)  # a new manifest in its place: another inode
    summary, seen = _run(manifest, out)
    assert sorted(seen) == [10, 11] and summary.skipped == 10
    out.unlink()  # the output gone: everything is redone, whatever the checkpoint says
    summary, seen = _run(manifest, out)
    assert sorted(seen) == list(range(12))
