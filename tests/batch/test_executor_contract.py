"""The executor contract: what every executor (local, processes, Ray) must do, run once per executor.

Each test takes the ``executor`` fixture (``conftest.py``), so it runs three times. The rest of the batch tests
and the cloze-predict tests run on the local executor only; what only one executor has (a worker process that
dies, a Ray actor killed, two Ray nodes) stays in ``test_processes.py`` and ``test_ray.py``.

- every clip captioned exactly once, the usage of every worker summed in the summary, the cache shared;
- injected endpoint faults: every clip ends captioned or recorded as failed, the calls bounded;
- a failed clip is recorded, retried by the next run and then captioned (resume);
- ``kill -9`` of the run at random moments, then resumed: every record exactly once, no worker left running;
- Ctrl-C: finished clips kept, nothing left running; resumed with an observer that hangs, the hung clip costs one
  timeout and the run exits.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from detective_testserver import ChatServer, Faults

from detective.agent.batch import BatchConfig, run_batch
from detective.agent.detective import Detective
from detective.jobs.cache import SQLiteCache
from detective.models import MediaInfo, Observation, Query
from detective.tools import Tool, ToolError

from .test_deadlines import EXECUTOR_ARGS, START_SECONDS, _clips, _env, _records, _run_args, _wait_gone, hang_site

__all__ = ["hang_site"]  # the fixture of test_deadlines.py, used here too

WORKER = Path(__file__).with_name("crash_worker.py")


def test_every_clip_once_usage_summed_and_cache_shared(
    tmp_path: Path, manifest: Path, helpers: Any, executor: dict
) -> None:
    """Two runs with one cache: 40 records once each; the second run makes no API call and gives the same captions."""
    cache_path = tmp_path / "cache.sqlite"
    captions = []
    with ChatServer() as server:
        settings = helpers.settings(server.url)
        for run in (1, 2):
            server.reset_stats()
            cache = SQLiteCache(cache_path)
            out = tmp_path / f"run{run}.jsonl"
            stream = io.StringIO()
            summary = run_batch(
                BatchConfig(manifest, out, workers=8, **executor), helpers.factory(settings, cache=cache), stream
            )
            assert cache.get("llm", "no such key") is None  # the driver's own connection still works
            cache.close()
            assert summary.done == 40 and summary.failed == 0 and summary.exit_code == 0
            assert "40 done, 0 failed" in stream.getvalue()
            records = helpers.read(out)
            assert sorted(r["id"] for r in records) == list(range(40))
            assert all(r["split"] == "test" for r in records)  # the manifest's other fields carried through
            captions.append({r["id"]: r["caption"] for r in records})
            if run == 1:
                assert server.stats.requests >= 40 * 4
                assert summary.usage.llm_calls == server.stats.requests  # every worker's usage summed
                assert summary.usage.total_tokens > 0
            else:
                assert server.stats.requests == 0, server.stats.snapshot()
                assert summary.usage.llm_calls == 0
                assert sum(m.cached_calls for m in summary.usage.models.values()) > 0
    assert captions[0] == captions[1]


@pytest.fixture(scope="module")
def fault_free_calls(clip_dir: Path, tmp_path_factory: pytest.TempPathFactory, helpers: Any) -> int:
    """API calls a fault-free run of the 40 clips makes (local executor, 10 workers), counted once per module."""
    root = tmp_path_factory.mktemp("fault_free")
    records = [{"id": i, "path": str(clip_dir / f"clip{i:02d}.wav"), "split": "test"} for i in range(40)]
    manifest = helpers.manifest(root / "manifest.jsonl", records)
    with ChatServer() as clean:
        config = BatchConfig(manifest, root / "clean.jsonl", workers=10)
        summary = run_batch(config, helpers.factory(helpers.settings(clean.url)), io.StringIO())
        assert summary.done == 40 and summary.failed == 0
        calls = clean.stats.requests
    assert calls >= 40 * 4  # planner x3, observer x2, captioner x1 per clip in the scripted script
    return calls


def test_faults_every_clip_accounted_and_calls_bounded(
    tmp_path: Path, manifest: Path, helpers: Any, executor: dict, fault_free_calls: int
) -> None:
    """30% injected faults (429, 500, timeouts, malformed and truncated replies), one retry per clip."""
    faults = Faults(rate=0.3, retry_after=0.01, timeout_sleep=0.8)
    with ChatServer(faults=faults, seed=3) as server:
        settings = helpers.settings(server.url, timeout=0.4)
        out = tmp_path / "faulty.jsonl"
        config = BatchConfig(manifest, out, workers=10, retries=1, **executor)
        summary = run_batch(config, helpers.factory(settings), io.StringIO())
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
    assert stats.requests <= 3 * fault_free_calls, (stats.requests, fault_free_calls)


class Unauthorized(Tool):
    """An audio observer whose endpoint refuses every call."""

    name = "listen"
    description = "asks an audio model"
    modalities = ("audio",)

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        raise ToolError("listen: the audio model's endpoint answered 401 Unauthorized (check the API key)")


class Listens(Unauthorized):
    """The same observer once the key is fixed."""

    covers = ("sound",)

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        return [Observation(tool=self.name, kind="description", content="A steady tone.", span=query.span)]


def test_failed_clips_are_recorded_then_retried(tmp_path: Path, manifest: Path, helpers: Any, executor: dict) -> None:
    """No evidence, no caption: a clip whose every observer failed is a failed clip, retried by the next run."""
    out = tmp_path / "out.jsonl"
    broken = lambda: Detective(tools=[Unauthorized()], planner="rule", captioner="template", offline=True)  # noqa: E731
    summary = run_batch(BatchConfig(manifest, out, workers=8, **executor), broken, io.StringIO())
    assert summary.done == 0 and summary.failed == 40 and summary.exit_code == 1
    assert helpers.read(out) == []
    errors = helpers.read(tmp_path / "out.errors.jsonl")
    assert len(errors) == 40
    for entry in errors:
        assert f"clip{entry['id']:02d}.wav" in entry["error"] and "401 Unauthorized" in entry["error"]
        assert entry["error_type"] == "NoEvidenceError" and entry["attempts"] == 1

    fixed = lambda: Detective(tools=[Listens()], planner="rule", captioner="template", offline=True)  # noqa: E731
    summary = run_batch(BatchConfig(manifest, out, workers=8, **executor), fixed, io.StringIO())
    assert summary.previously_failed == 40 and summary.done == 40 and summary.exit_code == 0
    records = helpers.read(out)
    assert sorted(r["id"] for r in records) == list(range(40))
    for record in records:
        assert "401" not in record["caption"] and "failed" not in record["caption"]
    assert not (tmp_path / "out.errors.jsonl").exists()


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts: it runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    except OSError:
        return True


def _actors() -> list[int]:
    """Process ids of live Ray actors of the job engine (Ray titles them ``ray::JobActor``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::JobActor") and not _gone(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_kill_9_then_resume(tmp_path: Path, manifest: Path, executor: dict, request: pytest.FixtureRequest) -> None:
    """A run (``crash_worker.py``) killed with SIGKILL at random moments, then resumed: every record exactly once,
    every line whole, no worker process outliving its parent."""
    name = executor["executor"]
    out = tmp_path / "out.jsonl"
    cache = tmp_path / "cache.sqlite"
    rng = random.Random(11)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if name == "ray":  # the driver joins the session's Ray; its actors must die with it
        env["RAY_ADDRESS"] = request.getfixturevalue("ray_session")
    with ChatServer(latency=0.05) as server:
        args = [sys.executable, str(WORKER), str(manifest), str(out), server.url, str(cache), name]
        kills = 0
        orphans: list[int] = []
        for _ in range(3):
            before = _lines(out)
            proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 60
            # Wait until this run has written something, then kill it at a random moment shortly after.
            while _lines(out) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.25))
            if proc.poll() is None:
                workers = _actors() if name == "ray" else _children(proc.pid)
                proc.send_signal(signal.SIGKILL)
                kills += 1
                orphans += workers
            proc.wait(timeout=30)
            assert proc.returncode in (-signal.SIGKILL, 0), proc.stderr.read().decode()[-2000:]
            proc.stderr.close()
        assert kills >= 2
        # worker processes notice that their parent is gone and exit: nothing keeps running unsupervised
        deadline = time.monotonic() + 10
        while not all(_gone(pid) for pid in orphans) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in orphans), f"worker processes outlived their parent: {orphans}"
        if name != "local":
            assert orphans
        assert _lines(out) < 40 or kills < 3
        final = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr[-3000:]
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    ids = [r["id"] for r in records]
    assert sorted(ids) == list(range(40)), f"duplicates or gaps: {sorted(ids)}"
    assert all(r["caption"].startswith("## Storyline") and r["split"] == "test" for r in records)
    assert "0 failed" in final.stderr


def test_ctrl_c_keeps_finished_clips_then_a_hung_tool_costs_its_clip_one_timeout(
    hang_site: Path, tmp_path: Path, executor: dict
) -> None:
    """``omni-detective run`` with the ``od_hang`` plugin tool (``test_deadlines.py``), as a user runs it.

    Ctrl-C while the hung clip is in flight: exit 130 within seconds, finished clips saved, no process left. The
    resumed run (``--observer-timeout 1``, the tool still hangs on that clip) redoes no finished clip, records the
    hung clip as failed after one timeout, captions the rest exactly once and exits, leaving nothing running.
    """
    name = executor["executor"]
    names = ["hang"] + [f"clip{i:02d}" for i in range(12)]  # the hung clip holds a slot from the start
    manifest = _clips(tmp_path / "clips", names)
    out = tmp_path / "out.jsonl"
    marker = uuid.uuid4().hex
    extra = ["--executor", name, "--workers", "3", *EXECUTOR_ARGS[name]]
    launched = time.monotonic()
    proc = subprocess.Popen(
        _run_args(manifest, out, *extra),
        env=_env(hang_site, marker, OD_SLOW="0.4"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_SECONDS[name] + 240  # a wait that ends once two clips are done
        while len(_records(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else ""
        interrupted = time.monotonic()
        startup = interrupted - launched  # this machine's start-up time, under its present load
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends; the hung clip is in flight, its thread asleep
        proc.wait(timeout=20)
        seconds = time.monotonic() - interrupted
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    assert seconds < 10, f"stopped {seconds:.1f} s after Ctrl-C"
    assert "interrupted: finished clips are saved" in stderr
    assert _wait_gone(marker, 5) == [], "a worker process (or Ray) outlived the interrupted run"
    kept = [r["id"] for r in _records(out)]
    assert len(kept) >= 2 and len(kept) == len(set(kept)) and "hang" not in kept

    # far below the hour the hung thread sleeps: the start-up seen above (at least START_SECONDS) and 30 s of work
    limit = max(START_SECONDS[name], startup) + 30
    started = time.monotonic()
    done = subprocess.run(
        _run_args(manifest, out, "--observer-timeout", "1", *extra),
        env=_env(hang_site, marker),
        capture_output=True,
        text=True,
        timeout=limit + 30,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 1, done.stderr[-3000:]  # documented: 1 when a clip failed
    assert seconds < limit, f"took {seconds:.1f} s"
    left = len(names) - len(kept) - 1
    assert f"{left} done, 1 failed, {len(kept)} skipped (already done)" in done.stderr, done.stderr[-3000:]
    ids = [r["id"] for r in _records(out)]
    assert ids[: len(kept)] == kept  # the finished ones not redone
    assert sorted(ids) == sorted(names[1:])
    assert all(r["caption"].startswith("## Storyline") for r in _records(out))
    errors = _records(tmp_path / "out.errors.jsonl")
    assert [e["id"] for e in errors] == ["hang"]
    assert "od_hang on " in errors[0]["error"] and "hang.wav: no answer within 1 s" in errors[0]["error"]
    # the hung thread held up neither the exit of the command nor that of its worker processes
    assert _wait_gone(marker, 5) == []
