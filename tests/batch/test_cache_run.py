"""With the cache, a second run over the same manifest makes no API call and gives the same captions."""

from __future__ import annotations

import io
from pathlib import Path

from detective_testserver import ChatServer

from detective.agent.batch import BatchConfig, run_batch
from detective.jobs.cache import SQLiteCache


def test_second_run_makes_no_calls(tmp_path: Path, manifest: Path, helpers, executor: dict) -> None:
    cache_path = tmp_path / "cache.sqlite"
    captions = []
    with ChatServer() as server:
        settings = helpers.settings(server.url)
        for run in (1, 2):
            server.reset_stats()
            cache = SQLiteCache(cache_path)
            out = tmp_path / f"run{run}.jsonl"
            summary = run_batch(
                BatchConfig(manifest, out, workers=8, **executor), helpers.factory(settings, cache=cache), io.StringIO()
            )
            cache.close()
            assert summary.done == 40 and summary.failed == 0
            captions.append({r["id"]: r["caption"] for r in helpers.read(out)})
            if run == 1:
                assert server.stats.requests >= 40 * 4
                assert summary.usage.llm_calls == server.stats.requests
            else:
                assert server.stats.requests == 0, server.stats.snapshot()
                assert summary.usage.llm_calls == 0
                assert sum(m.cached_calls for m in summary.usage.models.values()) > 0
    assert captions[0] == captions[1]


def test_no_cache_calls_again(tmp_path: Path, manifest: Path, helpers) -> None:
    with ChatServer() as server:
        settings = helpers.settings(server.url)
        for run in (1, 2):
            out = tmp_path / f"run{run}.jsonl"
            run_batch(BatchConfig(manifest, out, workers=8), helpers.factory(settings), io.StringIO())
        assert server.stats.requests >= 2 * 40 * 4
