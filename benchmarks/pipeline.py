"""Batch throughput against a loopback OpenAI-compatible server at a fixed latency per call.

Compares the batch pipeline (asyncio, N clips in flight, several observers per round in parallel) on each
executor (``local``: this process; ``processes``: forked worker processes; ``ray``: Ray Core actors on a Ray
started on this machine, bound to 127.0.0.1) with:

- the *ideal*: every clip takes exactly (calls on its critical path) x latency, ``in_flight`` clips at a time;
- an upstream-style baseline (``benchmarks/upstream_baseline.py``): one tool call per turn, 10 turns, a final
  caption call, sequential within a clip, a thread pool of the same size, the sync openai client.

The server runs in its own process so its work does not compete with the pipeline for the GIL; it replies
``latency`` after each request arrives (its ``server ms/reply`` column shows what it measured). Every run starts
with cold media caches; each row is the median of ``--repeat`` runs, with the range of their wall times.
``cpu ms/call`` is the CPU time of the pipeline's processes (not the server's) per LLM call. ``planner KB/clip``
is what the planner (upstream's agent) was sent per clip: the bytes of its requests' ``messages`` and ``tools``,
counted by the server, next to ``answers/clip``, the observer answers it was given.

``start s`` is the executor's start cost within a run (forking workers, starting Ray actors that build their
Detectives); Ray's own start (``ray.init``) is printed once above the table. For Ray, ``cpu ms/call`` counts the
driver, the Ray daemons and the actors (every process of the Ray this benchmark started).

    python benchmarks/pipeline.py                # 100 clips, 100 ms per call, 3 runs per row
    python benchmarks/pipeline.py --clips 40 --latency 0.05 --repeat 1
    python benchmarks/pipeline.py --executors    # only the executor comparison (local / processes / ray)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detective_testserver import ChatServer, ScriptedDetective
from upstream_baseline import UpstreamResponder, run_upstream

from detective import logs
from detective.batch import BatchConfig, job_config, make_executor
from detective.detective import Detective
from detective.jobs import Job
from detective.llm import EndpointLimits
from detective.media import clear_caches, wav_bytes
from detective.settings import Settings
from detective.testing.tools import ListenTool


class ListenTwice(ListenTool):
    """A second, independent audio observer, so a round can run two observers in parallel."""

    name: ClassVar[str] = "listen_detail"
    description: ClassVar[str] = "Ask a second audio model for fine detail about the clip's sound."


def _serve(conn: Any, latency: float, rounds: int, calls_per_tool: int, answer_bytes: int) -> None:
    scripted = ScriptedDetective(rounds=rounds, calls_per_tool=calls_per_tool, answer_bytes=answer_bytes)
    responder = UpstreamResponder(scripted)
    with ChatServer(latency=latency, responder=responder) as server:
        conn.send(server.url)
        conn.recv()  # block until the parent says stop
        conn.send(server.stats.snapshot())


class ServerProcess:
    """A :class:`ChatServer` in a child process."""

    def __init__(self, latency: float, rounds: int, calls_per_tool: int = 1, answer_bytes: int = 0) -> None:
        ctx = mp.get_context("spawn")
        self.parent, child = ctx.Pipe()
        args = (child, latency, rounds, calls_per_tool, answer_bytes)
        self.proc = ctx.Process(target=_serve, args=args, daemon=True)

    def __enter__(self) -> ServerProcess:
        self.proc.start()
        self.url = self.parent.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self.parent.send("stop")
        self.stats = self.parent.recv()
        self.proc.join(timeout=10)


def make_clips(root: Path, n: int) -> Path:
    """``n`` half-second tones and a manifest of them."""
    t = np.arange(8000) / 16000.0
    lines = []
    for i in range(n):
        path = root / f"clip{i:03d}.wav"
        path.write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * (200.0 + 7.0 * i) * t)))
        lines.append(json.dumps({"id": i, "url": str(path)}))
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def run_ours(
    manifest: Path,
    out: Path,
    url: str,
    in_flight: int,
    rounds: int,
    tools: int,
    processes: int = 1,
    executor: str = "local",
) -> dict[str, Any]:
    """One batch run; returns wall time, executor start time, CPU time (this process, its workers, the Ray
    processes) and per-clip timings. ``processes`` is the number of worker processes or Ray actors."""
    settings = Settings.from_env(env={}, api_key="sk-bench", base_url=url, backoff=0.05, timeout=30.0)
    limits = EndpointLimits(max_concurrent=4 * in_flight)
    toolbox = [ListenTool(), ListenTwice()][:tools]

    def factory() -> Detective:
        return Detective(
            tools=toolbox, planner="llm", captioner="chat", settings=settings, limits=limits, max_rounds=rounds + 1
        )

    clear_caches()  # every run decodes its clips afresh, as a new batch would
    options: dict[str, Any] = {"executor": executor}
    if executor == "processes":
        options["processes"] = processes
    if executor == "ray":
        options.update(ray_actors=processes, ray_actor_options={"num_cpus": 0})
    config = BatchConfig(manifest, out, workers=in_flight, **options)
    runner = make_executor(config, factory)
    start_cost: list[float] = []
    started, cpu = time.perf_counter(), _cpu()
    original_start = runner.start

    async def timed_start() -> None:
        began = time.perf_counter()
        await original_start()
        start_cost.append(time.perf_counter() - began)

    runner.start = timed_start  # type: ignore[method-assign]
    cpu_before = _tree_cpu()
    summary = asyncio.run(Job(job_config(config), runner, io.StringIO()).run())
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    if executor == "ray":  # actors and Ray daemons are not our waited-for children: read their CPU from /proc
        cpu = _tree_cpu() - cpu_before
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return {
        "wall": wall,
        "start": start_cost[0] if start_cost else 0.0,
        "cpu": cpu,
        "done": summary.done,
        "failed": summary.failed,
        "calls": summary.usage.llm_calls,
        "clip_seconds": [r["usage"]["seconds"] for r in records],
    }


def _tree_cpu() -> float:
    """CPU seconds of this process and every live descendant (the Ray daemons and actors), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    mine, todo = {os.getpid()}, [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in mine:
                mine.add(pid)
                todo.append(pid)
    return sum(stats[pid][1] for pid in mine if pid in stats)


def _cpu() -> float:
    """CPU seconds of this process and its finished children: the batch's worker processes are joined at the end
    of a run, the loopback server (still running) is not counted."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    """Run every configuration ``--repeat`` times and print the table (the median run of each)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the median is reported")
    parser.add_argument(
        "--answer-bytes",
        type=int,
        default=500,
        help="length of each observer answer (upstream's released records average about 500 bytes)",
    )
    parser.add_argument("--executors", action="store_true", help="only the executor comparison")
    args = parser.parse_args()
    logs.configure(level="ERROR")
    lat = args.latency
    rows = []
    ray_start = _start_ray()
    if ray_start is not None:
        print(f"ray.init (a Ray on this machine, loopback only): {ray_start:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = make_clips(root, args.clips)
        configs = [
            # (label, in flight, rounds, tools per round, questions per tool and round, processes or actors, executor)
            ("ours: 2 rounds x 1 tool", 50, 2, 1, 1, 1, "local"),
            ("ours: 2 rounds x 2 tools (parallel)", 50, 2, 2, 1, 1, "local"),
            ("ours: 2 rounds x 5 questions (parallel)", 50, 2, 1, 5, 1, "local"),
            ("ours: 10 rounds x 1 tool", 10, 10, 1, 1, 1, "local"),
            ("ours: 10 rounds x 1 tool", 50, 10, 1, 1, 1, "local"),
            ("ours: 10 rounds x 1 tool", 50, 10, 1, 1, 2, "processes"),
            ("ours: 10 rounds x 1 tool", 50, 10, 1, 1, 2, "ray"),
        ]
        if args.executors:
            configs = [c for c in configs if c[1:5] == (50, 10, 1, 1)]
        if ray_start is None:
            configs = [c for c in configs if c[6] != "ray"]
        for label, in_flight, rounds, tools, per_tool, processes, executor in configs:
            critical = 2 * rounds + 2  # plan+observe per round, the finishing plan, the caption
            runs = []
            with ServerProcess(lat, rounds, per_tool, args.answer_bytes) as server:
                warm = root / "warm.jsonl"
                run_ours(manifest_head(manifest, root, 4), warm, server.url, 4, rounds, tools, processes, executor)
                for path in root.glob("warm*"):
                    path.unlink()
                for i in range(args.repeat):
                    out = root / f"ours-{in_flight}-{rounds}-{tools}-{per_tool}-{processes}-{executor}-{i}.jsonl"
                    runs.append(run_ours(manifest, out, server.url, in_flight, rounds, tools, processes, executor))
            res = _median(runs)
            served = 4 + args.repeat * args.clips  # the warm-up run's clips, then every repeat
            rows.append(
                _row(
                    label,
                    executor,
                    res["start"],
                    in_flight,
                    processes,
                    args.clips,
                    res["wall"],
                    critical,
                    lat,
                    res["calls"],
                    res["clip_seconds"],
                    res["failed"],
                    res["cpu"],
                    [r["wall"] for r in runs],
                    server.stats,
                    served,
                    "planner",
                )
            )
        for workers in () if args.executors else (10, 50):
            runs, stats = [], {}
            for i in range(args.repeat):
                with ServerProcess(lat, 10, 1, args.answer_bytes) as server:
                    out = root / f"upstream-{workers}-{i}.jsonl"
                    res = run_upstream(manifest, out, server.url, workers)
                res["calls"] = server.stats["requests"]
                runs.append(res)
                stats = server.stats
            res = _median(runs)
            rows.append(
                _row(
                    "upstream-style baseline (10 turns)",
                    "threads",
                    0.0,
                    workers,
                    1,
                    args.clips,
                    res["wall"],
                    21,
                    lat,
                    res["calls"],
                    res["clip_seconds"],
                    res["failed"],
                    res.get("cpu"),
                    [r["wall"] for r in runs],
                    stats,
                    args.clips,
                    "agent",
                )
            )
    print(
        f"\n{args.clips} clips, {lat * 1000:.0f} ms per call (loopback server in its own process), observer answers "
        f"of {args.answer_bytes} bytes; median of {args.repeat} runs per row\n"
    )
    head = (
        "configuration",
        "executor",
        "start s",
        "in flight",
        "processes/actors",
        "calls/clip",
        "crit. path",
        "wall s (range)",
        "clips/min",
        "ideal/min",
        "% ideal",
        "overhead ms/call",
        "cpu ms/call",
        "server ms/reply",
        "planner KB/clip",
        "answers/clip",
        "failed",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")


def _start_ray() -> float | None:
    """Start a loopback-only Ray for the ray rows; its start time, or ``None`` when Ray is not installed."""
    try:
        from detective.jobs.ray_executor import init_local_ray
    except ImportError:
        return None
    began = time.perf_counter()
    try:
        init_local_ray()
    except (ImportError, RuntimeError):
        return None
    return time.perf_counter() - began


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time."""
    return sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]


def manifest_head(manifest: Path, root: Path, n: int) -> Path:
    """A manifest of the first ``n`` clips (for warming up imports, connections and the registry)."""
    head = root / "head.jsonl"
    head.write_text("".join(manifest.read_text().splitlines(keepends=True)[:n]))
    return head


def _row(
    label: str,
    executor: str,
    start: float,
    in_flight: int,
    processes: int,
    clips: int,
    wall: float,
    critical: int,
    lat: float,
    calls: int,
    clip_seconds: list[float],
    failed: int,
    cpu: float | None,
    walls: list[float],
    server: dict[str, Any],
    served_clips: int,
    planner_kind: str,
) -> tuple:
    waves = -(-clips // in_flight)
    ideal_wall = waves * critical * lat
    per_min = 60.0 * clips / wall
    ideal_per_min = 60.0 * clips / ideal_wall
    overhead = (statistics.mean(clip_seconds) - critical * lat) / critical * 1000.0 if clip_seconds else float("nan")
    served = server.get("requests") or 0
    reply_ms = 1000.0 * server.get("handler_seconds", 0.0) / served if served else float("nan")
    return (
        label,
        executor,
        f"{start:.2f}",
        in_flight,
        processes,
        f"{calls / clips:.1f}",
        critical,
        f"{wall:.2f} ({min(walls):.2f}-{max(walls):.2f})",
        f"{per_min:.0f}",
        f"{ideal_per_min:.0f}",
        f"{100.0 * per_min / ideal_per_min:.0f}%",
        f"{overhead:.1f}",
        f"{1000.0 * cpu / calls:.2f}" if cpu is not None and calls else "n/a",
        f"{reply_ms:.1f}",
        f"{server.get('prompt_bytes', {}).get(planner_kind, 0) / served_clips / 1024:.1f}",
        f"{server.get('by_kind', {}).get('observer', 0) / served_clips:.1f}",
        failed,
    )


if __name__ == "__main__":
    main()
