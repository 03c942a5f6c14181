"""Batch runs in worker processes: the same work as one process, endpoint limits shared, a worker that dies.

The shared cache, exactly-once output and the rest of the executor contract: ``test_executor_contract.py``.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
from pathlib import Path
from typing import Any

import pytest
from detective_testserver import ChatServer

from detective.agent.batch import BatchConfig, Item, batch_gc, run_batch
from detective.llm import client as llm


def test_two_processes_caption_every_clip_once_and_sum_usage(tmp_path: Path, manifest: Path, helpers: Any) -> None:
    with ChatServer() as server:
        settings = helpers.settings(server.url)
        one = run_batch(
            BatchConfig(manifest, tmp_path / "one.jsonl", workers=8), helpers.factory(settings), io.StringIO()
        )
        calls_one = server.stats.requests
        server.reset_stats()
        out = tmp_path / "two.jsonl"
        stream = io.StringIO()
        two = run_batch(BatchConfig(manifest, out, workers=8, processes=2), helpers.factory(settings), stream)
    records = helpers.read(out)
    assert sorted(r["id"] for r in records) == list(range(40))
    assert two.done == 40 and two.failed == 0 and two.exit_code == 0
    assert server.stats.requests == calls_one  # the same work, split over two processes
    assert two.usage.llm_calls == one.usage.llm_calls == calls_one
    assert two.usage.total_tokens == one.usage.total_tokens
    assert {r["caption"] for r in records} == {r["caption"] for r in helpers.read(tmp_path / "one.jsonl")}
    assert "40 done, 0 failed" in stream.getvalue()


class DiesOn:
    """A Detective that ends its whole worker process on one clip (a segfault in a native library, say)."""

    def __init__(self, inner: Any, victim: str) -> None:
        self.inner = inner
        self.victim = victim

    async def arun(self, source: str, *, clip: str | None = None) -> Any:
        if source.endswith(self.victim):
            await asyncio.sleep(0.2)
            os._exit(3)
        return await self.inner.arun(source, clip=clip)


def test_a_worker_that_dies_fails_its_clips_and_the_run_goes_on(tmp_path: Path, manifest: Path, helpers: Any) -> None:
    out = tmp_path / "out.jsonl"
    stream = io.StringIO()
    with ChatServer() as server:
        make = helpers.factory(helpers.settings(server.url))

        def factory() -> DiesOn:
            return DiesOn(make(), "clip07.wav")

        summary = run_batch(BatchConfig(manifest, out, workers=4, processes=2), factory, stream)
        assert summary.failed >= 1 and summary.done + summary.failed == 40
        assert summary.exit_code == 1
        errors = helpers.read(tmp_path / "out.errors.jsonl")
        assert {e["error_type"] for e in errors} == {"WorkerLost"}
        assert all(e["retryable"] and "exited with code 3" in e["error"] for e in errors)
        assert 7 in {e["id"] for e in errors}
        done = {r["id"] for r in helpers.read(out)}
        assert done | {e["id"] for e in errors} == set(range(40)) and not done & {e["id"] for e in errors}

        # the next run (without the fault) retries exactly the clips that were lost
        server.reset_stats()
        again = run_batch(BatchConfig(manifest, out, workers=4, processes=2), make, io.StringIO())
    assert again.done == summary.failed and again.skipped == summary.done and again.failed == 0
    assert sorted(r["id"] for r in helpers.read(out)) == list(range(40))
    assert not (tmp_path / "out.errors.jsonl").exists()


def test_each_worker_takes_its_share_of_the_endpoint_limits() -> None:
    limits = llm.EndpointLimits(max_concurrent=10, requests_per_minute=600)

    async def capacity() -> int:
        return limits.semaphore("api.example.com")._value

    try:
        llm.set_process_share(0.5)
        assert asyncio.run(capacity()) == 5
    finally:
        llm.set_process_share(1.0)
    with pytest.raises(ValueError, match="share"):
        llm.set_process_share(0.0)


def test_batch_gc_is_restored_after_the_run() -> None:
    before = gc.get_threshold()
    with batch_gc():
        assert gc.get_threshold()[0] > before[0]
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_processes_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="processes"):
        BatchConfig(tmp_path / "in.jsonl", tmp_path / "out.jsonl", processes=0)
    assert Item(1, "id:1", {"id": 1}, "x.wav").label == "id=1"
