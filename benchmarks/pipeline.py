"""Batch throughput against a loopback OpenAI-compatible server that answers like a real API.

By default every call is held a log-normal time like a hosted model's (median 1.5 s, p95 6 s, mean 2.1 s) and
200 or 500 clips are in flight, on each of the openai SDK's HTTP clients (``httpx``, its default, and ``aiohttp``,
``openai.DefaultAioHttpClient``; ``OMNI_DETECTIVE_HTTP_CLIENT`` picks). A row at a fixed 100 ms per call, 50 clips
in flight, is kept for information (no target: real endpoints answer in seconds). The target is 90% of the ideal.

The *ideal* is the same batch with no overhead at all: each clip takes the sum over its rounds of the slowest of
the round's calls (plan, then the round's observer calls in parallel), plus the finishing plan and the caption,
with latencies drawn from the same distribution, ``in_flight`` clips at a time, each slot taking the next clip as
soon as it is free; its wall time is the median of many simulated batches. ``--loopback`` runs the former suite at
a fixed latency instead: several investigation shapes, the ``processes`` and ``ray`` executors, and an
upstream-style baseline (``benchmarks/upstream_baseline.py``: one tool call per turn, 10 turns, a final caption
call, sequential within a clip, a thread pool of the same size, the sync openai client).

The server runs in its own process so its work does not compete with the pipeline for the GIL; its
``server ms/reply (held)`` column is the mean time it held a reply (the drawn latency plus its own work). Every
run starts with cold media caches; a row is the median of ``--repeat`` runs, with the range of their wall times.
``cpu ms/call`` is the CPU time of the pipeline's processes (not the server's) per LLM call; ``overhead ms/call``
is what a clip took beyond its expected critical path, per call on it. ``planner KB/clip`` is what the planner
(upstream's agent) was sent per clip, next to ``answers/clip``, the observer answers it was given. ``start s`` is
the executor's start cost within a run (forking workers, starting Ray actors); Ray's own start (``ray.init``) is
printed once above the table. For Ray, ``cpu ms/call`` counts the driver, the Ray daemons and the actors.

    python benchmarks/pipeline.py                          # 200 and 500 in flight, 2 clips per slot, both clients
    python benchmarks/pipeline.py --in-flight 200 --clients aiohttp --repeat 1
    python benchmarks/pipeline.py --in-flight 500 --clients aiohttp --processes 2 --no-100ms   # CPU over 2 cores
    python benchmarks/pipeline.py --loopback               # the fixed-latency suite (100 clips, 100 ms per call)
    python benchmarks/pipeline.py --loopback --executors   # only the executor comparison (local / processes / ray)
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import io
import json
import multiprocessing as mp
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detective_testserver import ChatServer, LogNormal, ScriptedDetective
from upstream_baseline import UpstreamResponder, run_upstream

from detective import logs
from detective.agent.batch import BatchConfig, job_config, make_executor
from detective.agent.detective import Detective
from detective.jobs import Job
from detective.jobs.jsonl import iter_records
from detective.llm.client import HTTP_CLIENT_ENV, HTTP_CLIENTS, EndpointLimits
from detective.llm.settings import Settings
from detective.media import clear_caches, wav_bytes
from detective.testing.tools import ListenTool


class ListenTwice(ListenTool):
    """A second, independent audio observer, so a round can run two observers in parallel."""

    name: ClassVar[str] = "listen_detail"
    description: ClassVar[str] = "Ask a second audio model for fine detail about the clip's sound."


def _serve(conn: Any, latency: Latency, rounds: int, calls_per_tool: int, answer_bytes: int) -> None:
    scripted = ScriptedDetective(rounds=rounds, calls_per_tool=calls_per_tool, answer_bytes=answer_bytes)
    responder = UpstreamResponder(scripted)
    with ChatServer(latency=latency.server(), responder=responder) as server:
        conn.send(server.url)
        conn.recv()  # block until the parent says stop
        conn.send(server.stats.snapshot())


@dataclass(frozen=True)
class Latency:
    """Seconds the server holds each reply: fixed, or log-normal by its median and 95th percentile."""

    median: float
    p95: float | None = None

    def server(self) -> float | LogNormal:
        """The test server's latency setting."""
        return LogNormal(self.median, self.p95) if self.p95 else self.median

    def draw(self, rng: random.Random) -> float:
        """One call's seconds."""
        return self.server()(rng) if self.p95 else self.median  # type: ignore[operator]

    def __str__(self) -> str:
        if self.p95:
            return f"log-normal {self.median:g} s median, {self.p95:g} s p95"
        return f"{self.median * 1000:.0f} ms"


class ServerProcess:
    """A :class:`ChatServer` in a child process."""

    def __init__(self, latency: Latency, rounds: int, calls_per_tool: int = 1, answer_bytes: int = 0) -> None:
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
        path = root / f"clip{i:04d}.wav"
        path.write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * (200.0 + 7.0 * i) * t)))
        lines.append(json.dumps({"id": i, "url": str(path)}))
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def ideal(clips: int, in_flight: int, rounds: int, parallel: int, latency: Latency, runs: int = 101) -> tuple:
    """The batch with no overhead: (median wall seconds, mean seconds of one clip), over ``runs`` simulations.

    A clip is ``rounds`` x (a plan call, then ``parallel`` observer calls at once), a finishing plan and a
    caption call; ``in_flight`` slots take clips in order, each as soon as it is free.
    """
    rng = random.Random(7)
    walls, clip_means = [], []
    for _ in range(runs if latency.p95 else 1):
        slots = [0.0] * in_flight
        total = 0.0
        for _clip in range(clips):
            took = sum(latency.draw(rng) + max(latency.draw(rng) for _ in range(parallel)) for _ in range(rounds))
            took += latency.draw(rng) + latency.draw(rng)
            total += took
            heapq.heapreplace(slots, slots[0] + took)
        walls.append(max(slots))
        clip_means.append(total / clips)
    return statistics.median(walls), statistics.mean(clip_means)


def run_ours(
    manifest: Path,
    out: Path,
    url: str,
    in_flight: int,
    rounds: int,
    tools: int,
    processes: int = 1,
    executor: str = "local",
    client: str = "httpx",
) -> dict[str, Any]:
    """One batch run on the openai SDK's ``client``; returns wall time, executor start time, CPU time (this
    process, its workers, the Ray processes) and per-clip timings. ``processes`` is the number of worker processes
    or Ray actors."""
    os.environ[HTTP_CLIENT_ENV] = client  # read when a run's event loop builds its endpoint client
    settings = Settings.from_env(env={}, api_key="sk-bench", base_url=url, backoff=0.05, timeout=60.0)
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
    records = [record for _number, record in iter_records(out, strict=True)]
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


@dataclass(frozen=True)
class Config:
    """One row: the investigation's shape, the executor, the HTTP client and the latency."""

    label: str
    in_flight: int
    rounds: int
    tools: int
    per_tool: int
    processes: int
    executor: str
    client: str
    latency: Latency
    clips: int


def real_configs(args: argparse.Namespace) -> list[Config]:
    """The default suite: real-endpoint latencies at 200 and 500 clips in flight, then the 100 ms row."""
    lognormal = Latency(1.5, 6.0)
    executor, procs = ("processes" if args.processes > 1 else "local"), args.processes
    rows = [
        Config("ours: 10 rounds x 1 tool", n, 10, 1, 1, procs, executor, client, lognormal, args.clips or 2 * n)
        for n in args.in_flight
        for client in args.clients
    ]
    if not args.no_100ms:
        rows += [
            Config("ours: 10 rounds x 1 tool", 50, 10, 1, 1, 1, "local", client, Latency(0.1), 100)
            for client in args.clients
        ]
    return rows


def loopback_configs(args: argparse.Namespace, ray: bool) -> list[Config]:
    """The fixed-latency suite: investigation shapes and executors at ``--latency`` per call."""
    lat, clips, client = Latency(args.latency), args.clips or 100, args.clients[0]
    shapes = [
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
        shapes = [c for c in shapes if c[1:5] == (50, 10, 1, 1)]
    if not ray:
        shapes = [c for c in shapes if c[6] != "ray"]
    return [Config(*shape, client, lat, clips) for shape in shapes]  # type: ignore[arg-type]


def main() -> None:
    """Run every configuration ``--repeat`` times and print the table (the median run of each)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=None, help="clips per row (default: 2 per slot; 100 loopback)")
    parser.add_argument("--in-flight", type=int, nargs="+", default=[200, 500], help="clips in flight (default suite)")
    parser.add_argument("--clients", nargs="+", choices=HTTP_CLIENTS, default=list(HTTP_CLIENTS))
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes for the real-latency rows (default 1: the local executor, one process)",
    )
    parser.add_argument("--no-100ms", action="store_true", help="leave out the 100 ms rows of the default suite")
    parser.add_argument("--loopback", action="store_true", help="the fixed-latency suite instead")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per call in the loopback suite")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration; the median is reported")
    parser.add_argument(
        "--answer-bytes",
        type=int,
        default=500,
        help="length of each observer answer (upstream's released records average about 500 bytes)",
    )
    parser.add_argument("--executors", action="store_true", help="only the executor comparison (with --loopback)")
    args = parser.parse_args()
    logs.configure(level="ERROR")
    rows = []
    ray_start = _start_ray() if args.loopback else None
    if ray_start is not None:
        print(f"ray.init (a Ray on this machine, loopback only): {ray_start:.1f} s")
    configs = loopback_configs(args, ray_start is not None) if args.loopback else real_configs(args)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = make_clips(root, max(c.clips for c in configs))
        with ServerProcess(Latency(0.0), 1) as server:  # warm up imports and the registry once
            for client in args.clients:
                run_ours(manifest_head(manifest, root, 4), root / "warm.jsonl", server.url, 4, 1, 1, client=client)
                (root / "warm.jsonl").unlink()
        for c in configs:
            clips = manifest_head(manifest, root, c.clips)
            runs = []
            with ServerProcess(c.latency, c.rounds, c.per_tool, args.answer_bytes) as server:
                for i in range(args.repeat):
                    out = root / f"ours-{len(rows)}-{i}.jsonl"
                    runs.append(
                        run_ours(
                            clips, out, server.url, c.in_flight, c.rounds, c.tools, c.processes, c.executor, c.client
                        )
                    )
            res = _median(runs)
            ideal_wall, clip_mean = ideal(c.clips, c.in_flight, c.rounds, c.tools * c.per_tool, c.latency)
            rows.append(
                _row(c, res, ideal_wall, clip_mean, [r["wall"] for r in runs], server.stats, args.repeat * c.clips)
            )
            print("| " + " | ".join(str(x) for x in rows[-1]) + " |", file=sys.stderr, flush=True)
        for workers in (10, 50) if args.loopback and not args.executors else ():
            label, lat = "upstream-style baseline (10 turns)", Latency(args.latency)
            c = Config(label, workers, 10, 1, 1, 1, "threads", "httpx (sync)", lat, args.clips or 100)
            clips = manifest_head(manifest, root, c.clips)
            runs, stats = [], {}
            for i in range(args.repeat):
                with ServerProcess(c.latency, 10, 1, args.answer_bytes) as server:
                    res = run_upstream(clips, root / f"upstream-{workers}-{i}.jsonl", server.url, workers)
                res["calls"] = server.stats["requests"]
                runs.append(res)
                stats = server.stats
            # upstream: 10 turns of (agent call, then the LALM call), then the caption: 21 calls in sequence
            rows.append(_row(c, _median(runs), *_upstream_ideal(c), [r["wall"] for r in runs], stats, c.clips, "agent"))
    print(f"\nobserver answers of {args.answer_bytes} bytes; median of {args.repeat} run(s) per row\n")
    head = (
        "configuration",
        "client",
        "executor",
        "latency",
        "start s",
        "in flight",
        "processes/actors",
        "clips",
        "calls/clip",
        "wall s (range)",
        "ideal s",
        "% ideal",
        "clips/min",
        "overhead ms/call",
        "cpu ms/call",
        "server ms/reply (held)",
        "planner KB/clip",
        "answers/clip",
        "failed",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")


def _upstream_ideal(c: Config) -> tuple[float, float]:
    clip = 21 * c.latency.median
    return -(-c.clips // c.in_flight) * clip, clip


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
    """A manifest of the first ``n`` clips."""
    head = root / f"head-{n}.jsonl"
    head.write_text("".join(manifest.read_text().splitlines(keepends=True)[:n]))
    return head


def _row(
    c: Config,
    res: dict[str, Any],
    ideal_wall: float,
    clip_mean: float,
    walls: list[float],
    server: dict[str, Any],
    served_clips: int,
    planner_kind: str = "planner",
) -> tuple:
    calls, wall, clip_seconds, cpu = res["calls"], res["wall"], res["clip_seconds"], res.get("cpu")
    critical = 2 * c.rounds + 2 if planner_kind == "planner" else 21
    overhead = (statistics.mean(clip_seconds) - clip_mean) / critical * 1000.0 if clip_seconds else float("nan")
    served = server.get("requests") or 0
    reply_ms = 1000.0 * server.get("handler_seconds", 0.0) / served if served else float("nan")
    return (
        c.label,
        c.client,
        c.executor,
        str(c.latency),
        f"{res.get('start', 0.0):.2f}",
        c.in_flight,
        c.processes,
        c.clips,
        f"{calls / c.clips:.1f}",
        f"{wall:.1f} ({min(walls):.1f}-{max(walls):.1f})",
        f"{ideal_wall:.1f}",
        f"{100.0 * ideal_wall / wall:.0f}%",
        f"{60.0 * c.clips / wall:.0f}",
        f"{overhead:.1f}",
        f"{1000.0 * cpu / calls:.2f}" if cpu is not None and calls else "n/a",
        f"{reply_ms:.2f}",
        f"{server.get('prompt_bytes', {}).get(planner_kind, 0) / served_clips / 1024:.1f}",
        f"{server.get('by_kind', {}).get('observer', 0) / served_clips:.1f}",
        res["failed"],
    )


if __name__ == "__main__":
    main()
