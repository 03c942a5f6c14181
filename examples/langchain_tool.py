"""A langchain-core ``@tool`` used as a Detective tool, unchanged.

The Detective adapts any ``BaseTool``: it passes the planner's ``question`` and the clip's ``media_path`` when the
tool's schema asks for them, and records the string it returns as a ``description`` observation.

    python examples/langchain_tool.py [clip]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from langchain_core.tools import tool

from detective import Detective
from detective.media import probe

DEMO = Path(__file__).resolve().parent / "media" / "demo.mp4"


@tool
def stream_inspector(question: str, media_path: str) -> str:
    """Answers questions about the file itself: container, codecs, resolution, frame rate and duration."""
    info = probe(media_path)
    facts = [f"{info.duration:.1f} s long in a {info.container.split(',')[0] if info.container else '?'} container"]
    if info.has_video:
        facts.append(f"video {info.video_codec} {info.width}x{info.height} at {info.fps:g} fps")
    if info.has_audio:
        facts.append(f"audio {info.audio_codec} at {info.audio_sample_rate} Hz, {info.audio_channels} channel(s)")
    return f"Asked “{question}”: the file is " + "; ".join(facts) + "."


def main() -> None:
    """Run the Detective with the LangChain tool and a built-in tool; print the tool's answers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(DEMO))
    parser.add_argument("--with", dest="others", default="shots", help="built-in tools to add")
    args = parser.parse_args()

    others = [name for name in args.others.split(",") if name]
    detective = Detective(tools=[stream_inspector, *others], max_rounds=3, offline=True)
    result = detective.run(args.source)
    for obs in result.evidence.by_tool("stream_inspector"):
        print(f"stream_inspector said: {obs.content}")
    print(f"-- caption has {len(result.caption.storyline)} storyline segments; stop: {result.stop_reason}")


if __name__ == "__main__":
    main()
