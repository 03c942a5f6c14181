"""Caption a folder of clips at scale: write a JSONL manifest, run the batch pipeline, read the output.

The same as ``omni-detective run --input manifest.jsonl --output out.jsonl --offline``, from Python. The run
resumes: run it twice and the second run skips every clip already captioned. A clip that fails is written to
``out.errors.jsonl`` with its error and retried next time; the others go on.

    python examples/batch_manifest.py clip1.mp4 clip2.wav --out /tmp/job [--workers 2] [--tools shots,asr]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from detective import Detective
from detective.agent.batch import BatchConfig, run_batch

DEMO = Path(__file__).resolve().parent / "media" / "demo.mp4"


def main() -> None:
    """Write the manifest, run the batch and print one line per captioned clip."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", default=[str(DEMO)], help="media files (default: the demo clip)")
    parser.add_argument("--out", default="batch-output", help="folder for manifest.jsonl and out.jsonl")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tools", default=None, help="comma list of tool names (default: every local tool)")
    parser.add_argument("--max-rounds", type=int, default=6)
    args = parser.parse_args()

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / "manifest.jsonl"
    with manifest.open("w", encoding="utf-8") as f:
        for number, clip in enumerate(args.clips, start=1):
            # any of {"id", "url"}, {"uuid", "video_path"} or {"path"}; extra fields are kept in the output
            f.write(json.dumps({"id": f"clip-{number}", "path": str(Path(clip).resolve()), "batch": "example"}) + "\n")

    def factory() -> Detective:
        tools = args.tools.split(",") if args.tools else None
        return Detective(tools=tools, max_rounds=args.max_rounds, offline=True)

    config = BatchConfig(input_path=manifest, output_path=out_dir / "out.jsonl", workers=args.workers)
    summary = run_batch(config, factory)
    print(f"done {summary.done}, failed {summary.failed}, skipped {summary.skipped} (already captioned)")

    for line in config.output_path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        first = record["caption"].split("\n")[2] if record["caption"].count("\n") > 2 else record["caption"]
        print(f"{record['id']}: {len(record['evidence']['observations'])} observations; {first[:100]}")
    raise SystemExit(summary.exit_code)


if __name__ == "__main__":
    main()
