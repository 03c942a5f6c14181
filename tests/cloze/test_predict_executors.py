"""``cloze predict`` with an LLM judge on a loopback endpoint, on the local executor and on every other one.

On the local executor: resume after a torn line, a broken input line, a malformed record, a judge endpoint that
fails, and a second writer refused. On the processes and Ray executors, one run: the judge work reaches the
workers, each opens the judge cache from its path, and the records and errors come back (the rest of what every
executor must do is ``tests/batch/test_executor_contract.py``).
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from detective_cloze.judges import LLMJudge
from detective_cloze.predict import JudgeWork, run_predict

from detective.jobs import LocalExecutor, OutputLock, OutputLocked
from detective.jobs.cache import SQLiteCache
from detective.jobs.executors import Executor
from detective.llm.settings import Settings
from detective.runtime import RunServices

from .conftest import make_record, read_jsonl, write_jsonl
from .test_predict import fake_judge


class JudgeEndpoint:
    """A loopback OpenAI-compatible judge: answers like ``fake_judge``; ``down`` makes it answer 500."""

    def __init__(self) -> None:
        self.requests = 0
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.requests += 1
                if outer.down:
                    status, reply = 500, {"error": {"message": "down"}}
                else:

                    class Request:
                        content = body

                    status, reply = 200, json.loads(fake_judge(Request).content)  # type: ignore[arg-type]
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> JudgeEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class MakeJudge:
    """Builds an LLM judge in the worker (picklable: settings and the cache's path)."""

    def __init__(self, url: str, cache: Path) -> None:
        self.settings = Settings(api_key="sk-judge", base_url=url, backoff=0.0, max_attempts=2, timeout=5.0)
        self.cache = cache

    def __call__(self) -> LLMJudge:
        return LLMJudge(RunServices(settings=self.settings), cache=SQLiteCache(self.cache, check=False))


@pytest.fixture(params=["processes", "ray"])
def make_executor(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``make_executor(judge_factory) -> Executor`` for the processes and Ray executors."""
    if request.param == "ray":
        request.getfixturevalue("ray_session")
        from detective.testing.ray import ship_by_value

        ship_by_value([sys.modules[__name__], sys.modules[fake_judge.__module__]])

    def build(factory: MakeJudge) -> Executor:
        work = JudgeWork(factory=factory)
        if request.param == "processes":
            from detective.jobs.processes import ProcessExecutor

            return ProcessExecutor(work, retries=0, processes=2)
        from detective.jobs.ray_executor import RayExecutor

        return RayExecutor(work, retries=0, actors=2, actor_options={"num_cpus": 0})

    yield build


def _predict(src: Path, out: Path, executor: Executor) -> Any:
    return asyncio.run(run_predict(src, out, None, workers=4, executor=executor, stream=io.StringIO()))


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    """Six records with captions, a malformed record and a broken line; and an empty judge cache."""
    golds = ["A", "B", "C"]
    records = [make_record(i, golds, caption=f"We see opt-1-A and opt-2-B in {i}.") for i in range(1, 7)]
    records.append({"uuid": 99, "cloze": {"passage": "x", "blanks": []}})  # malformed
    src = tmp_path / "in.jsonl"
    write_jsonl(src, records)
    with src.open("a") as fh:
        fh.write("{broken\n")
    cache = tmp_path / "judge.sqlite"
    SQLiteCache(cache).close()
    return src, cache


def test_predict_fails_then_resumes(tmp_path: Path) -> None:
    src, cache = _inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    with JudgeEndpoint() as endpoint:
        make = MakeJudge(endpoint.url, cache)
        endpoint.down = True
        failed = _predict(src, out, LocalExecutor(JudgeWork(factory=make), retries=0))
        assert (failed.judged, failed.call_failures, failed.record_errors, failed.invalid_lines) == (0, 6, 1, 1)
        assert failed.exit_code == 1 and read_jsonl(out) == []
        errors = {e["key"]: e for e in read_jsonl(tmp_path / "out.errors.jsonl")}
        assert set(errors) == {*(f"uuid:{i}" for i in range(1, 8) if i != 7), "uuid:99", "line:8"}
        assert errors["uuid:99"]["error_type"] == "MalformedRecord"

        endpoint.down = False
        summary = _predict(src, out, LocalExecutor(JudgeWork(factory=make), retries=0))
        assert (summary.judged, summary.call_failures, summary.record_errors) == (6, 0, 1)
        by_uuid = {r["uuid"]: r for r in read_jsonl(out)}
        assert sorted(by_uuid) == [1, 2, 3, 4, 5, 6]
        assert by_uuid[3]["predictions"] == {"1": "A", "2": "B", "3": "E"}

        # a torn last line: resumed, the torn record judged again (from the cache)
        lines = out.read_text().splitlines(keepends=True)
        out.write_text("".join(lines[:-1]) + lines[-1][:40])
        calls = endpoint.requests
        again = _predict(src, out, LocalExecutor(JudgeWork(factory=make), retries=0))
        assert (again.already_done, again.torn_lines_repaired, again.judged, again.cached) == (5, 1, 1, 1)
        assert endpoint.requests == calls
    assert sorted(r["uuid"] for r in read_jsonl(out)) == [1, 2, 3, 4, 5, 6]


def test_predict_on_each_executor(tmp_path: Path, make_executor: Any) -> None:
    src, cache = _inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    with JudgeEndpoint() as endpoint:
        make = MakeJudge(endpoint.url, cache)
        summary = _predict(src, out, make_executor(make))
        assert (summary.judged, summary.call_failures, summary.record_errors, summary.invalid_lines) == (6, 0, 1, 1)
        assert summary.exit_code == 1  # the malformed record and the broken line
        by_uuid = {r["uuid"]: r for r in read_jsonl(out)}
        assert sorted(by_uuid) == [1, 2, 3, 4, 5, 6]
        assert by_uuid[3]["predictions"] == {"1": "A", "2": "B", "3": "E"}
        errors = {e["key"]: e for e in read_jsonl(tmp_path / "out.errors.jsonl")}
        assert set(errors) == {"uuid:99", "line:8"} and errors["uuid:99"]["error_type"] == "MalformedRecord"

        # the workers wrote the judge cache at its path: judging again elsewhere calls nobody
        calls = endpoint.requests
        again = _predict(src, tmp_path / "again.jsonl", LocalExecutor(JudgeWork(factory=make), retries=0))
        assert (again.judged, again.cached) == (6, 6) and endpoint.requests == calls


def test_second_writer_is_refused(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A"])])
    out = tmp_path / "out.jsonl"
    with OutputLock(tmp_path / "out.lock", out), pytest.raises(OutputLocked, match="another run"):
        _predict(src, out, LocalExecutor(JudgeWork(factory=lambda: None), retries=0))  # type: ignore[arg-type]
