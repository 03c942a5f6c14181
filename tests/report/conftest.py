"""One real offline run of the demo clip, shared by the report tests: a batch record and a RunResult JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from detective.agent.detective import Detective
from detective.jobs.cache import SQLiteCache

ROUNDS = 3  # broad passes (shots, ASR, audio, OCR) plus one round of re-checks: every lane gets items


@pytest.fixture(scope="session")
def demo_batch(demo_path: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``omni-detective run`` on a one-line manifest of the demo clip, offline, with every local tool."""
    folder = tmp_path_factory.mktemp("demo-run")
    manifest = folder / "manifest.jsonl"
    manifest.write_text(json.dumps({"id": "demo", "path": demo_path, "split": "docs"}) + "\n", encoding="utf-8")
    out = folder / "out.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "detective",
            "run",
            "--input",
            str(manifest),
            "--output",
            str(out),
            "--offline",
            "--max-rounds",
            str(ROUNDS),
            "--no-progress",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    return {"path": out, "record": record, "cache": folder / "out.cache.sqlite", "folder": folder}


@pytest.fixture(scope="session")
def demo_result_json(demo_batch: dict[str, Any], demo_path: str) -> Path:
    """The same run as a RunResult JSON (``omni-detective caption --json``), replayed from the run's cache."""
    cache = SQLiteCache(demo_batch["cache"])
    try:
        result = Detective(offline=True, max_rounds=ROUNDS, cache=cache).run(demo_path)
    finally:
        cache.close()
    path = demo_batch["folder"] / "result.json"
    path.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    return path
