"""Benchmark the offline observers: wall time per second of clip and peak memory, one subprocess per run.

Usage::

    python benchmarks/observers.py                 # demo clip and a 10-minute loop of it
    python benchmarks/observers.py --minutes 2     # a shorter long clip
    python benchmarks/observers.py --clip my.mp4   # your own clip(s) instead
    python benchmarks/observers.py --only "detective (offline)" --repeat 3   # medians of 3 runs

Every registered tool that runs offline (``needs_api`` is False) and applies to the clip is measured alone;
then "all tools" runs each of them once in one process, and "detective (offline)" runs the whole offline
Detective (rule planner, local tools, template captioner). Each measurement runs in a fresh Python process so
the peak RSS is that run's own (it includes the interpreter, imports and model loading). Import and model
loading time are reported separately from the observe time. A last table gives the unit costs of the models of
``scene`` (per frame) and ``audio_tags`` (per second of audio), when they are installed.

The last lines hold the "detective (offline)" row of the longest clip to issue 13's targets: at most 0.15x real
time (wall), at most 0.25 CPU seconds per clip second (what 0.15x needs on 2 busy cores, and the figure that
stays put when the machine is shared), and flat memory (peak RSS at most 1.25x the shortest clip's).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "media" / "demo.mp4"
ALL = "all tools"
DETECTIVE = "detective (offline)"
UNITS = "unit costs"
#: Issue 13's targets for the whole offline pass on a long clip.
TARGET_REALTIME = 0.15
TARGET_CPU_PER_SECOND = 0.25
TARGET_FLAT_RSS = 1.25


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _cpu_seconds() -> float:
    """User plus system CPU seconds of this process (all threads): unlike wall time, not inflated by other load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker(target: str, path: str) -> dict[str, Any]:
    """Run one measurement in this process and return its numbers."""
    t0 = time.perf_counter()
    import asyncio

    from detective.media import probe
    from detective.models import Query
    from detective.plugins import get_registry

    registry = get_registry()
    media = probe(path)
    tools = [r.value for r in registry.tools.values() if not r.value.needs_api and r.value.applies_to(media)]
    setup = time.perf_counter() - t0
    count = 0
    t1 = time.perf_counter()
    c1 = _cpu_seconds()
    if target == DETECTIVE:
        from detective import Detective

        result = Detective(offline=True).run(path)
        count = len(result.evidence.observations)
    else:
        chosen = tools if target == ALL else [registry.tool(target)]
        for tool in chosen:
            count += len(asyncio.run(tool.aobserve(media, Query(tool=tool.name))))
    seconds = time.perf_counter() - t1
    cpu = _cpu_seconds() - c1
    return {"setup": setup, "seconds": seconds, "cpu": cpu, "observations": count, "rss_mb": _peak_rss_mb()}


def _unit_costs(path: str) -> dict[str, Any]:
    """CPU milliseconds per frame of the scene models and per second of audio of YAMNet, on frames of ``path``
    (CPU time of the process, so a busy machine does not inflate them)."""
    import numpy as np

    from detective.media import frames_at, load_audio

    costs: dict[str, Any] = {}
    frames = [f for _, f in frames_at(path, [0.5 + k for k in range(10)], max_side=448)]
    try:
        from detective_scene.engine import texture
        from detective_scene.tool import SceneTool
    except ImportError:
        pass
    else:
        engine = SceneTool().engine()
        engine.classify(frames[0]), engine.faces(frames[0])  # load the models outside the timing
        for name, fn in (
            ("scene: classifier", engine.classify),
            ("scene: faces", engine.faces),
            ("scene: texture", texture),
        ):
            t0 = _cpu_seconds()
            for frame in frames:
                fn(frame)
            costs[f"{name} (CPU ms/frame)"] = 1000 * (_cpu_seconds() - t0) / len(frames)
    try:
        from detective_audio_tags.frontend import SR, patches
        from detective_audio_tags.tool import AudioTagsTool
    except ImportError:
        return costs
    from detective.tools import ToolError

    try:
        model = AudioTagsTool().model()
    except ToolError as exc:  # the model wheel is installed apart; report, do not fail the benchmark
        costs["audio_tags"] = f"not measured: {exc}"
        return costs
    audio = np.asarray(load_audio(path, end=10.0, sr=SR), dtype=np.float32)
    t0 = _cpu_seconds()
    model.scores(patches(audio))
    costs["audio_tags: YAMNet (CPU ms per audio s)"] = 1000 * (_cpu_seconds() - t0) / (audio.size / SR)
    return costs


def _measure(target: str, path: str, repeat: int = 1) -> dict[str, Any]:
    """One measurement in a fresh process, or the median of each figure over ``repeat`` of them (a shared machine
    moves single runs by 10-15%)."""
    rows = []
    for _ in range(max(1, repeat)):
        cmd = [sys.executable, __file__, "--worker", target, path]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["?"])[-1]
            return {"error": tail[:100]}
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if len(rows) == 1 or target == UNITS:
        return rows[0]
    merged = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    merged["observations"] = rows[0]["observations"]
    return merged


def _targets(path: str) -> list[str]:
    from detective.media import probe
    from detective.plugins import get_registry

    media = probe(path)
    names = sorted(
        name for name, r in get_registry().tools.items() if not r.value.needs_api and r.value.applies_to(media)
    )
    return [*names, ALL, DETECTIVE]


def _long_clip(minutes: float, folder: Path) -> Path:
    """The demo clip looped to ``minutes`` (stream copy: built in about a second)."""
    out = folder / f"demo_loop_{minutes:g}min.mp4"
    cmd = [
        "ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(DEMO),
        "-t", str(minutes * 60), "-c", "copy", str(out),
    ]  # fmt: skip
    subprocess.run(cmd, check=True)
    return out


def target_lines(rows: list[tuple[str, float, dict[str, Any]]]) -> list[str]:
    """Issue 13's targets checked on the "detective (offline)" rows ``(clip name, clip seconds, numbers)``: the
    longest clip against the wall and CPU targets, its peak memory against the shortest clip's."""
    if not rows:
        return []
    name, duration, row = max(rows, key=lambda r: r[1])
    short_name, _, short = min(rows, key=lambda r: r[1])

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    ratio = row["seconds"] / duration
    cpu = row["cpu"] / duration
    growth = row["rss_mb"] / short["rss_mb"]
    checks = [
        ("wall", f"{ratio:.3f}x real time", f"<= {TARGET_REALTIME}x", ratio <= TARGET_REALTIME),
        ("CPU", f"{cpu:.3f} CPU s per clip second", f"<= {TARGET_CPU_PER_SECOND}", cpu <= TARGET_CPU_PER_SECOND),
    ]
    if short_name != name:
        checks.append(
            (
                "memory",
                f"{row['rss_mb']:.0f} MB peak, {growth:.2f}x the {short['rss_mb']:.0f} MB on {short_name}",
                f"<= {TARGET_FLAT_RSS}x",
                growth <= TARGET_FLAT_RSS,
            )
        )
    lines = ["", f"{DETECTIVE} on {name} against issue 13's targets (the machine's load inflates wall time):"]
    lines += [f"  {what:<7} {value:<48} target {goal:<8} {verdict(ok)}" for what, value, goal, ok in checks]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the looped long clip")
    parser.add_argument("--clip", action="append", help="benchmark these clips instead of the demo and its loop")
    parser.add_argument("--only", action="append", help="measure only these targets (tool names, 'all tools')")
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the table shows each figure's median")
    parser.add_argument("--worker", nargs=2, metavar=("TARGET", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        target, path = args.worker
        print(json.dumps(_unit_costs(path) if target == UNITS else _worker(target, path)))
        return 0

    from detective.media import probe

    with tempfile.TemporaryDirectory(prefix="omni-bench-") as tmp:
        clips = [Path(c) for c in args.clip] if args.clip else [DEMO, _long_clip(args.minutes, Path(tmp))]
        header = f"{'clip':<24} {'target':<22} {'clip s':>7} {'setup s':>8} {'observe s':>10} {'x realtime':>11}"
        header += f" {'cpu s':>7} {'cpu/clip s':>10}"
        header += f" {'peak RSS MB':>12} {'obs':>5}"
        detective_rows: list[tuple[str, float, dict[str, Any]]] = []
        print(header)
        print("-" * len(header))
        for clip in clips:
            duration = probe(str(clip)).duration
            for target in _targets(str(clip)):
                if args.only and target not in args.only:
                    continue
                row = _measure(target, str(clip), args.repeat)
                name = clip.name[:24]
                if "error" in row:
                    print(f"{name:<24} {target:<22} {duration:>7.1f}  failed: {row['error']}")
                    continue
                ratio = row["seconds"] / duration
                print(
                    f"{name:<24} {target:<22} {duration:>7.1f} {row['setup']:>8.2f} {row['seconds']:>10.2f}"
                    f" {ratio:>11.4f} {row['cpu']:>7.2f} {row['cpu'] / duration:>10.4f} {row['rss_mb']:>12.0f}"
                    f" {row['observations']:>5}",
                    flush=True,
                )
                if target == DETECTIVE:
                    detective_rows.append((clip.name, duration, row))
        for line in target_lines(detective_rows):
            print(line)
        if not args.only or UNITS in args.only:
            print()
            for name, value in _measure(UNITS, str(clips[0])).items():
                print(f"{name:<40} {value:>8.1f}" if isinstance(value, float) else f"{name:<40} {value}")
    print("\nx realtime = observe seconds / clip seconds (lower is faster); setup = imports, plugins, probe;")
    print("cpu s = CPU seconds of the observe phase over all threads (stable when the machine is shared).")
    if args.repeat > 1:
        print(f"each figure is the median of {args.repeat} runs.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
