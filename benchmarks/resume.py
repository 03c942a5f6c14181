"""How long a resume takes to start on a huge output: the finished-keys index against a full rescan.

    python benchmarks/resume.py [--records 10000000] [--record-bytes 20000] [--rescan-sample 20000]

Builds, in a temporary folder, a manifest of ``--records`` + 1 lines and an output of ``--records`` records of
``--record-bytes`` each as a *sparse* file (only the index and the last line are real bytes; a resume with a valid
index reads nothing else) with its ``out.keys`` index as the job engine writes it. Times opening the output, and a
whole job from its start to its first new clip, with and without the manifest checkpoint. The full rescan (what
a resume without the index does, and what rebuilding a lost index costs) is timed on ``--rescan-sample`` real
records of the same size and extrapolated linearly. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from detective.jobs import Item, Job, JobConfig, LocalExecutor, OutputFile, output_key
from detective.jobs.checkpoint import Checkpoint
from detective.jobs.output import _HEADER, _identity


def _record(i: int, size: int) -> bytes:
    body = {"id": i, "path": f"/data/clips/{i:08d}.mp4", "caption": "", "provenance": {"record_key": f"id:{i}"}}
    line = json.dumps(body)
    body["caption"] = "x" * max(0, size - len(line) - 1)
    return (json.dumps(body) + "\n").encode()


def simulate(folder: Path, records: int, size: int) -> Path:
    """A sparse ``out.jsonl`` of ``records`` lines of ``size`` bytes and its index; returns the output path."""
    out = folder / "out.jsonl"
    last = _record(records - 1, size)
    with out.open("wb") as fh:
        fh.truncate(size * (records - 1))  # a hole: the records before the last are never read on resume
        fh.seek(size * (records - 1))
        fh.write(last)
    end = size * (records - 1) + len(last)
    with (folder / "out.keys").open("w", encoding="utf-8") as fh:
        fh.write(f"{_HEADER} {_identity(out)}\n")
        chunk = 1_000_000
        for start in range(0, records, chunk):
            stop = min(records, start + chunk)
            fh.write("".join(f"id:{i}\t{size * (i + 1) if i < records - 1 else end}\n" for i in range(start, stop)))
    return out


def time_open(out: Path) -> tuple[float, int, str, int]:
    """Seconds to open (resume) ``out``, keys found, how the index was used, lines parsed."""
    started = time.perf_counter()
    output = OutputFile(out, output_key)
    scan = output.open()
    seconds = time.perf_counter() - started
    output.close()
    return seconds, len(scan.done), scan.index, scan.scanned_lines


def run_job(manifest: Path, out: Path) -> float:
    """Seconds from the start of a job whose every record but the last is done to its first new record."""
    first: list[float] = []
    started = time.perf_counter()

    def make() -> Any:
        async def work(item: Item) -> dict[str, Any]:
            first.append(time.perf_counter() - started)
            return {**item.record, "caption": "c"}

        return work

    config = JobConfig(manifest, out, workers=4, check=lambda r: r["path"], progress=False)
    summary = asyncio.run(Job(config, LocalExecutor(make, retries=0), io.StringIO()).run())
    assert summary.done == 1, summary
    # the job wrote the new record: drop it again (and its index line) for the next measurement
    for path in (out, out.with_name("out.keys")):
        size = path.stat().st_size
        with path.open("rb") as fh:
            fh.seek(max(0, size - (1 << 20)))
            tail = fh.read()
        os.truncate(path, size - len(tail) + tail.rstrip(b"\n").rfind(b"\n") + 1)
    return first[0]


def main() -> None:
    """Run both measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--record-bytes", type=int, default=20_000)
    parser.add_argument("--rescan-sample", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="resume-bench-") as tmp:
        folder = Path(tmp)
        out = simulate(folder, args.records, args.record_bytes)
        index_mb = (folder / "out.keys").stat().st_size / 1e6
        seconds, keys, how, parsed = time_open(out)
        assert keys == args.records and how == "used" and parsed == 0, (keys, how, parsed)
        manifest = folder / "manifest.jsonl"
        with manifest.open("w", encoding="utf-8") as fh:
            for start in range(0, args.records + 1, 1_000_000):
                stop = min(args.records + 1, start + 1_000_000)
                fh.write("".join(f'{{"id": {i}, "path": "/data/clips/{i:08d}.mp4"}}\n' for i in range(start, stop)))
        no_checkpoint = run_job(manifest, out)
        checkpoint = Checkpoint(folder / "out.checkpoint.json", manifest)
        checkpoint.offset = manifest.stat().st_size - len(
            f'{{"id": {args.records}, "path": "/data/clips/{args.records:08d}.mp4"}}\n'
        )
        checkpoint.line = checkpoint.skipped = args.records
        checkpoint.save()
        with_checkpoint = run_job(manifest, out)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sample = folder / "sample"
        sample.mkdir()
        with (sample / "out.jsonl").open("wb") as fh:
            for i in range(args.rescan_sample):
                fh.write(_record(i, args.record_bytes))
        rescan, _, how, parsed = time_open(sample / "out.jsonl")
        assert how == "rebuilt" and parsed == args.rescan_sample
        os.sync()
    per_record = rescan / args.rescan_sample
    size_gb = args.records * args.record_bytes / 1e9
    print(f"output: {args.records:,} records of {args.record_bytes:,} bytes ({size_gb:,.0f} GB, sparse)")
    print("| resume start | seconds | records parsed | note |")
    print("|---|---|---|---|")
    print(
        f"| with the finished-keys index | {seconds:.1f} | 0 | index {index_mb:,.0f} MB, peak RSS {peak_mb:,.0f} MB |"
    )
    print(f"| job start to its first new clip (index + manifest checkpoint) | {with_checkpoint:.1f} | 0 | default |")
    print(f"| the same without the manifest checkpoint | {no_checkpoint:.1f} | 0 | manifest parsed from line 1 |")
    print(
        f"| full rescan (no index; also the index rebuild) | {per_record * args.records:,.0f} (extrapolated) "
        f"| {args.records:,} | measured {rescan:.2f} s on {args.rescan_sample:,} records |"
    )


if __name__ == "__main__":
    main()
