"""Watch an investigation live: each round's plan, each observer's answer, each contradiction, then the caption.

Notebook-style: in Jupyter, ``async for event in detective.astream(path)`` does the same in a cell.

    python examples/live_investigation.py examples/media/demo.mp4 --tools shots,asr,ocr
"""

from __future__ import annotations

import argparse

from detective import Detective
from detective.agent.events import Captioned, ContradictionFound, Finished, Observed, RoundPlanned


def main() -> None:
    """Stream one clip's investigation and print it as it happens."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a clip's path or URL")
    parser.add_argument("--tools", default=None, help="comma-separated tool names (default: every tool)")
    parser.add_argument("--max-rounds", type=int, default=None)
    args = parser.parse_args()
    detective = Detective(tools=args.tools.split(",") if args.tools else None, max_rounds=args.max_rounds, offline=True)
    for event in detective.stream(args.source):
        if isinstance(event, RoundPlanned):
            if event.finish:
                print(f"round {event.round}: case closed ({event.rationale})")
            else:
                print(f"round {event.round}: asking {', '.join(q.tool for q in event.queries)}")
        elif isinstance(event, Observed):
            if event.failure:
                print(f"  {event.tool} failed: {event.failure.error}")
            else:
                first = event.observations[0].content[:60] if event.observations else "nothing"
                print(f"  {event.tool}: {len(event.observations)} observations, first: {first}")
        elif isinstance(event, ContradictionFound):
            rel = event.relation
            print(f"  ! {rel.tools[0]} says “{rel.a_says}” but {rel.tools[1]} says “{rel.b_says}”")
        elif isinstance(event, Captioned):
            print(f"caption ({event.stop_reason}):\n{event.markdown.rstrip()}")
        elif isinstance(event, Finished):
            usage = event.result.usage
            print(f"done in {usage.seconds:.1f} s, observer calls: {usage.tool_calls}")


if __name__ == "__main__":
    main()
