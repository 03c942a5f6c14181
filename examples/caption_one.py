"""Caption one clip with the Python API, offline: the rule planner, the local observers, the template captioner.

python examples/caption_one.py                      # the demo clip, every local tool
python examples/caption_one.py clip.mp4 --tools shots,asr --max-rounds 2 --json result.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detective import Detective

DEMO = Path(__file__).resolve().parent / "media" / "demo.mp4"


def main() -> None:
    """Parse the arguments, run the Detective and print the caption and a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(DEMO), help="a local clip or a URL (default: the demo)")
    parser.add_argument("--tools", default=None, help="comma list of tool names (default: every local tool)")
    parser.add_argument("--max-rounds", type=int, default=6)
    parser.add_argument("--json", dest="json_out", default=None, help="also write the full RunResult here")
    args = parser.parse_args()

    detective = Detective(
        tools=args.tools.split(",") if args.tools else None,
        max_rounds=args.max_rounds,
        offline=True,  # never call a remote model, even with OPENAI_API_KEY set
    )
    result = detective.run(args.source)

    print(result.caption_markdown)
    print(
        f"-- {len(result.evidence.observations)} observations from {sorted(result.usage.tool_calls)} "
        f"in {len(result.rounds)} rounds ({result.stop_reason}), {result.usage.seconds:.1f} s"
    )
    if args.json_out:
        Path(args.json_out).write_text(result.model_dump_json(indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
