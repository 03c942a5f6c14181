"""Without the cache, a second run calls the API again (with it, see ``test_executor_contract.py``)."""

from __future__ import annotations

import io
from pathlib import Path

from detective_testserver import ChatServer

from detective.agent.batch import BatchConfig, run_batch


def test_no_cache_calls_again(tmp_path: Path, manifest: Path, helpers) -> None:
    with ChatServer() as server:
        settings = helpers.settings(server.url)
        for run in (1, 2):
            out = tmp_path / f"run{run}.jsonl"
            run_batch(BatchConfig(manifest, out, workers=8), helpers.factory(settings), io.StringIO())
        assert server.stats.requests >= 2 * 40 * 4
