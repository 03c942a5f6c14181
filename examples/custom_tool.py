"""A tool of your own in a few lines, handed straight to ``Detective(tools=[...])``.

The tool measures where the clip is loudest. The Detective calls it like any observer (independently, with a
query), and its answer lands in the evidence and the caption.

    python examples/custom_tool.py [clip] [--with shots,audio_events]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from detective import Detective
from detective.media import load_audio
from detective.models import MediaInfo, Query
from detective.tools import tool

DEMO = Path(__file__).resolve().parent / "media" / "demo.mp4"


@tool(name="loudest_moment", description="Finds the loudest second of the audio.", modalities=["audio"])
def loudest_moment(media: MediaInfo, query: Query) -> str:
    """Return a sentence naming the loudest second (RMS level in dBFS) of the clip or of the query's span."""
    start = query.span.start if query.span else 0.0
    samples = load_audio(media.path or media.source, start=start, end=query.span.end if query.span else None)
    seconds = samples[: len(samples) // 16000 * 16000].reshape(-1, 16000) if len(samples) >= 16000 else None
    if seconds is None:
        return "The clip is shorter than one second."
    level = 20 * np.log10(np.sqrt((seconds.astype(np.float64) ** 2).mean(axis=1)) + 1e-12)
    i = int(level.argmax())
    return f"The loudest second starts at {start + i:.0f} s, at {level[i]:.1f} dBFS."


def main() -> None:
    """Run the Detective with the custom tool next to some built-in ones and print what it said."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(DEMO))
    parser.add_argument("--with", dest="others", default="shots,audio_events", help="built-in tools to add")
    args = parser.parse_args()

    others = [name for name in args.others.split(",") if name]
    detective = Detective(tools=[loudest_moment, *others], max_rounds=3, offline=True)
    result = detective.run(args.source)
    for obs in result.evidence.by_tool("loudest_moment"):
        print(f"loudest_moment said: {obs.content}")
    print(result.caption_markdown)


if __name__ == "__main__":
    main()
