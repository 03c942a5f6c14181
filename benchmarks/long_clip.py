"""Memory and requests of a long clip investigated window by window by the LLM observers.

    python benchmarks/long_clip.py [--minutes 1 10 60] [--window 30]

Each clip is generated with ffmpeg's lavfi sources (``testsrc2`` at 320x240, 5 fps, H.264, and a 440 Hz sine at
16 kHz, AAC), then captioned in a fresh interpreter by a Detective with the real ``audio_llm`` and
``vision_llm`` observers against the loopback OpenAI-compatible test server (``detective_testserver``), plus the
local ``audio_events`` observer over the whole clip, one round. The table gives the child's peak RSS
(``ru_maxrss``), the observer requests per tool (one per window), the longest span an LLM request covered, and
the wall time. Flat memory means the peak does not grow with the clip's length beyond the bounded caches: the
encoded-audio LRU of :func:`detective.media.wav_data_url` holds up to 64 MiB (``--audio-cache-mb`` bounds it
otherwise, to tell the cache from the rest).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from detective_testserver import ChatServer
from detective.agent.detective import Detective
from detective.llm.settings import Settings

clip, window, cache_mb = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
if cache_mb >= 0:
    import detective.media.audio
    detective.media.audio._DATA_URLS.max_bytes = int(cache_mb * 1024 * 1024)
with ChatServer() as server:
    settings = Settings.from_env(env={}, api_key="sk-bench", base_url=server.url, backoff=0.01)
    detective = Detective(
        tools=["audio_llm", "vision_llm", "audio_events"], planner="llm", captioner="template",
        settings=settings, max_rounds=1, window_seconds=window, max_concurrency=4,
    )
    started = time.perf_counter()
    result = detective.run(clip)
    seconds = time.perf_counter() - started
spans = [c.span.duration for c in result.evidence.coverage if c.tool in ("audio_llm", "vision_llm") and c.span]
local = [c.span.duration for c in result.evidence.coverage if c.tool == "audio_events" and c.span]
print(json.dumps({
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "calls": dict(result.usage.tool_calls),
    "longest_llm_span": max(spans, default=0.0),
    "local_span": max(local, default=0.0),
    "storyline_segments": len(result.caption.storyline),
    "seconds": seconds,
}))
"""


def make_clip(folder: Path, minutes: float) -> Path:
    """A ``minutes``-long H.264/AAC MP4 from ffmpeg's lavfi test sources."""
    path = folder / f"long-{minutes:g}min.mp4"
    seconds = str(60 * minutes)
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=5:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-c:a", "aac", "-b:a", "32k",
            "-shortest", str(path),
        ],
        check=True,
        timeout=1800,
    )  # fmt: skip
    return path


def measure(clip: Path, window: float, cache_mb: float = -1.0) -> dict[str, object]:
    """Run the child on ``clip`` (``cache_mb`` ≥ 0: that bound on the encoded-audio cache); its JSON line."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(clip), str(window), str(cache_mb)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if proc.returncode:
        raise SystemExit(f"{clip}: the run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument(
        "--audio-cache-mb",
        type=float,
        default=-1.0,
        help="Bound of the encoded-audio cache (detective.media's wav_data_url LRU; default: its own 64 MiB).",
    )
    args = parser.parse_args()
    cache = "default 64 MiB" if args.audio_cache_mb < 0 else f"{args.audio_cache_mb:g} MiB"
    print(f"window {args.window:g} s, encoded-audio cache {cache}; peak RSS of a fresh interpreter per clip")
    print(f"{'clip':>8} {'peak MB':>8} {'audio_llm':>9} {'vision_llm':>10} {'longest':>8} {'local':>8} {'wall s':>7}")
    with tempfile.TemporaryDirectory(prefix="omni-detective-long-") as tmp:
        for minutes in args.minutes:
            clip = make_clip(Path(tmp), minutes)
            started = time.perf_counter()
            row = measure(clip, args.window, args.audio_cache_mb)
            calls = row["calls"]
            print(
                f"{minutes:>6g}m {row['peak_rss_mb']:>8.0f} {calls.get('audio_llm', 0):>9} "
                f"{calls.get('vision_llm', 0):>10} {row['longest_llm_span']:>7.1f}s {row['local_span']:>7.0f}s "
                f"{time.perf_counter() - started:>7.1f}",
                flush=True,
            )
            clip.unlink()


if __name__ == "__main__":
    main()
