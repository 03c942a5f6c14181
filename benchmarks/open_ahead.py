"""A batch of clips given by URL from a store that answers slowly, with and without opening clips ahead.

A clip's run starts by opening its media: a URL is downloaded when a tool needs a local copy (here the local
``audio_events`` observer beside an audio-language model), then probed. With the ``local`` executor the batch opens
the next queued clips while earlier ones are captioned (``BatchConfig.open_ahead``, default: as many as
``workers``); ``--open-ahead 0`` turns it off. The store holds every response ``--store-ms`` before its first byte
(an object store's latency); the chat server holds every call ``--latency`` seconds. Both run on 127.0.0.1 in a
process of their own. Each row is the median of ``--repeat`` interleaved runs.

    python benchmarks/open_ahead.py
    python benchmarks/open_ahead.py --store-ms 400 --clips 120 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upstream_baseline import ScheduleResponder, _cpu, make_clips, schedule


def _serve(conn: Any, latency: float, store_ms: float, per_round: int, clips: str) -> None:
    """The chat server and a slow store of the clips, in a process of their own."""
    from aiohttp import web
    from detective_testserver import AppServer, ChatServer, ScriptedDetective

    @web.middleware
    async def slow(request: web.Request, handler: Any) -> web.StreamResponse:
        await asyncio.sleep(store_ms / 1000.0)
        return await handler(request)

    app = web.Application(middlewares=[slow])
    app.router.add_static("/", clips)
    responder = ScheduleResponder(ScriptedDetective(answer_bytes=500), per_round, broad=2)
    with AppServer(app) as files, ChatServer(latency=latency, responder=responder) as server:
        conn.send((server.url, files.base))
        conn.recv()


def run(manifest: Path, out: Path, url: str, workers: int, open_ahead: int | None, rounds: int) -> dict[str, float]:
    """One batch over ``manifest``: wall seconds and CPU seconds."""
    from detective_audio_llm.tool import AudioLLMTool

    from detective.agent.batch import BatchConfig, job_config, make_executor
    from detective.agent.detective import Detective
    from detective.jobs import Job
    from detective.llm.client import EndpointLimits
    from detective.llm.settings import Settings

    settings = Settings.from_env(env={}, api_key="sk-bench", base_url=url, backoff=0.05, timeout=60.0)
    limits = EndpointLimits(max_concurrent=64)

    def factory() -> Detective:
        tools = [AudioLLMTool(), "audio_events"]
        return Detective(tools=tools, planner="hybrid", settings=settings, limits=limits, max_rounds=rounds)

    out.unlink(missing_ok=True)
    config = BatchConfig(manifest, out, workers=workers, open_ahead=open_ahead)
    started, cpu = time.perf_counter(), _cpu()
    summary = asyncio.run(Job(job_config(config), make_executor(config, factory), io.StringIO()).run())
    if summary.failed:
        raise SystemExit(f"{summary.failed} clips failed")
    return {"wall": time.perf_counter() - started, "cpu": _cpu() - cpu}


def main() -> None:
    """Print clips/min with and without opening clips ahead."""
    import multiprocessing as mp

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=60)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the chat server holds every call")
    parser.add_argument("--store-ms", type=float, default=150.0, help="ms the store holds every response")
    parser.add_argument("--per-round", type=int, default=2, help="the planner's questions a round")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from detective import logs

    logs.configure(level="ERROR")
    rounds = len(schedule("hybrid", args.per_round, 2))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "clips").mkdir()
        make_clips(root / "clips", args.clips)
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        serving = (child, args.latency, args.store_ms, args.per_round, str(root / "clips"))
        proc = ctx.Process(target=_serve, args=serving, daemon=True)
        proc.start()
        try:
            url, files = parent.recv()
            manifest = root / "in.jsonl"
            manifest.write_text(
                "".join(f'{{"id": {i}, "url": "{files}/clip{i:04d}.wav"}}\n' for i in range(args.clips))
            )
            run(manifest, root / "warm.jsonl", url, args.workers, None, rounds)  # imports, first connections
            shapes = {f"ahead {args.workers} (default)": None, "ahead 0 (off)": 0}
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in shapes}
            for _ in range(args.repeat):
                for label, ahead in shapes.items():
                    runs[label].append(run(manifest, root / "out.jsonl", url, args.workers, ahead, rounds))
        finally:
            parent.send("stop")
            proc.join(timeout=10)
    print(
        f"\n{args.clips} clips by URL, {args.workers} in flight, store {args.store_ms:.0f} ms a response, "
        f"{args.latency * 1000:.0f} ms a call, hybrid planner at {args.per_round} a round; median of {args.repeat}\n"
    )
    print("| opening | clips/min | wall s (runs) | CPU ms/clip |")
    print("|---|---|---|---|")
    base = None
    for label, rs in runs.items():
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        per_min = 60.0 * args.clips / wall
        base = base or per_min
        walls = ", ".join(f"{r['wall']:.1f}" for r in rs)
        print(f"| {label} | {per_min:.0f} | {wall:.1f} ({walls}) | {1000 * cpu / args.clips:.0f} |")
    off = 60.0 * args.clips / statistics.median(r["wall"] for r in runs["ahead 0 (off)"])
    print(f"\nopening ahead: {base / off:.2f}x the clips/min without it")


if __name__ == "__main__":
    main()
