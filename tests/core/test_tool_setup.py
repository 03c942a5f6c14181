"""``Tool.setup()``: once per tool instance per process before its first observation, within the observer's
deadline, its failure the tool's failure on the clip; ``load_once``: one loaded copy per key and process."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import pickle
import select
import signal
import threading
import time
import uuid
from typing import Any

import pytest

from detective.agent.detective import Detective
from detective.loaded import load_once, loaded
from detective.models import MediaInfo, Observation, Query
from detective.tools import Tool, ToolError


class Counting(Tool):
    """Loads a "model" (a counter bump, ``pause`` seconds long) in setup; observe reports what setup loaded."""

    name = "counting"
    modalities = ("audio",)

    def __init__(self, pause: float = 0.0, fail: int = 0, key: str = "") -> None:
        self.pause = pause
        self.fail = fail  # setups that raise before one succeeds
        self.key = key
        self.setups = 0
        self.model: str | None = None

    def setup(self) -> None:
        self.setups += 1
        time.sleep(self.pause)
        if self.setups <= self.fail:
            raise ToolError(f"counting: model file missing (attempt {self.setups})")
        self.model = load_once(("counting", self.key), lambda: f"model {uuid.uuid4().hex}") if self.key else "m"

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        assert self.model is not None, "observe ran before setup"
        return [Observation(tool=self.name, kind="description", content=self.model, span=query.span)]


def test_setup_runs_once_before_the_first_observation_however_many_start_at_once(audio: MediaInfo) -> None:
    tool = Counting(pause=0.2)
    assert not tool.is_ready()

    async def many() -> list[list[Observation]]:
        return await asyncio.gather(*(tool.aobserve(audio, Query(tool="counting")) for _ in range(5)))

    answers = asyncio.run(many())
    assert tool.setups == 1 and tool.is_ready()
    assert [a[0].content for a in answers] == ["m"] * 5
    asyncio.run(tool.aobserve(audio, Query(tool="counting")))
    assert tool.setups == 1


def test_ready_is_thread_safe_and_returns_the_tool() -> None:
    tool = Counting(pause=0.1)
    threads = [threading.Thread(target=tool.ready) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tool.setups == 1
    assert tool.ready() is tool and tool.setups == 1


def test_a_tool_without_setup_is_ready_at_once() -> None:
    class Plain(Tool):
        name = "plain"

    assert Plain().is_ready()


def test_a_failed_setup_is_the_tools_failure_on_the_clip_and_is_tried_again(audio: MediaInfo) -> None:
    tool = Counting(fail=1)
    det = Detective(tools=[tool], planner="rule", captioner="evidence", offline=True, max_rounds=1)
    with pytest.raises(Exception, match="model file missing") as caught:
        asyncio.run(det.arun(audio.source, media=audio))  # its one observer failed: nothing to caption
    assert "counting on clip.wav: ToolError: counting: model file missing (attempt 1)" in str(caught.value)
    result = asyncio.run(det.arun(audio.source, media=audio))
    assert tool.setups == 2 and [o.content for o in result.evidence.observations] == ["m"]


def test_the_observer_deadline_covers_setup(audio: MediaInfo) -> None:
    tool = Counting(pause=2.0)
    det = Detective(tools=[tool], planner="rule", captioner="evidence", offline=True, max_rounds=1)
    det.config.observer_timeout = 0.3
    with pytest.raises(Exception, match=r"no answer within 0\.3 s") as caught:
        asyncio.run(det.arun(audio.source, media=audio))
    assert "counting on clip.wav" in str(caught.value)


def test_instances_share_what_they_load_by_key(audio: MediaInfo) -> None:
    key = uuid.uuid4().hex
    first, second, other = Counting(key=key), Counting(key=key), Counting(key=key + "-other")
    for tool in (first, second, other):
        tool.ready()
    assert first.model == second.model != other.model
    assert loaded(("counting", key))


def test_a_build_that_raises_is_not_kept() -> None:
    key = ("failing", uuid.uuid4().hex)
    calls: list[int] = []

    def build() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ToolError("not yet")
        return "loaded"

    with pytest.raises(ToolError):
        load_once(key, build)
    assert not loaded(key)
    assert load_once(key, build) == "loaded" == load_once(key, build) and len(calls) == 2


def _child(tool: Counting, key: Any, out: Any) -> None:
    out.send((tool.is_ready(), loaded(key)))
    tool.ready()
    out.send(tool.setups)


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_forked_worker_sets_up_and_loads_its_own() -> None:
    """A model loaded by the parent holds threads the fork does not copy: a forked worker loads its own."""
    key = uuid.uuid4().hex
    tool = Counting(key=key).ready()
    ctx = mp.get_context("fork")
    mine, theirs = ctx.Pipe()
    child = ctx.Process(target=_child, args=(tool, ("counting", key), theirs))
    child.start()
    assert mine.recv() == (False, False)
    assert mine.recv() == 2  # its copy of the tool had set up once (in the parent), and again in the child
    child.join(10)
    assert tool.is_ready() and loaded(("counting", key))


class _Busy:
    """A loaded object whose destructor waits for a lock another thread holds (an inference session's pool)."""

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock

    def __del__(self) -> None:
        with self.lock:
            pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_never_destroys_what_its_parent_loaded() -> None:
    """The fork copies the held lock but not its holder: a child that destroyed the parent's object would hang in
    its at-fork hook (an xdist worker with onnxruntime sessions loaded did, in the output-lock test)."""
    held, release = threading.Lock(), threading.Event()
    holder = threading.Thread(target=lambda: (held.acquire(), release.wait(30), held.release()), daemon=True)
    holder.start()
    while not held.locked():
        time.sleep(0.01)
    key = uuid.uuid4().hex
    load_once(("busy", key), lambda: _Busy(held))
    ready, tell = os.pipe()
    readable: list[int] = []
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports that its at-fork hooks returned
        os.write(tell, b"1" if not loaded(("busy", key)) else b"0")
        os._exit(0)
    try:
        readable, _, _ = select.select([ready], [], [], 20)
        assert readable, "the forked child hung in its at-fork hooks"
        assert os.read(ready, 1) == b"1"  # and starts empty
    finally:
        if not readable:
            os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        os.close(ready)
        os.close(tell)
        release.set()
        holder.join(10)
    assert loaded(("busy", key))


def test_a_pickled_tool_sets_up_again_where_it_lands() -> None:
    tool = Counting().ready()
    copy = pickle.loads(pickle.dumps(tool))
    assert not copy.is_ready() and copy.ready().setups == 2
