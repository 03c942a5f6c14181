"""Perception on real recordings: offline captions of the real-media corpus against its ground truth.

    python benchmarks/real_corpus.py [CORPUS_DIR] [--captions DIR]

Builds the corpus (``tests/fixtures/make_real_corpus.py``: recordings from Debian's asterisk and freedesktop
sound packages and pyannote.audio's sample) unless CORPUS_DIR already holds it, captions each clip offline with
the template captioner, and prints a Markdown table, one row per clip:

- **WER**: word error rate of the caption's transcript against the package's own transcript (digits spelled out
  on both sides; ``—`` where the package ships no transcript);
- **speakers**: voices the caption tells apart ("Speaker N" profiles; speech no voice turn covers is an
  "Unidentified speaker", not a voice of its own) / voices in the ground truth;
- **DER**: diarisation error rate of the ``speakers`` observer's turns against the reference turns (no collar;
  ``observers/speakers/tests/scoring.py``);
- **false silence**: storyline sentences resting on a silence that overlaps a real sound, voice or song of the
  ground truth by more than 0.1 s (must be 0);
- **music**: how much of the ground truth's music the storyline names as music (``yes`` from 80%, ``partly``,
  ``no``), ``FALSE`` where it names music that is not there, ``—`` otherwise;
- **shots with content**: for footage (none in this audio corpus yet), shots given a correct content noun;
- **grounding** and **wall s** (one run, this machine).

``--captions DIR`` also writes each clip's caption Markdown there, to read as a user would.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, single digits spelled out."""
    out = []
    for word in re.findall(r"[a-z0-9']+", text.lower().replace("[unclear]", " ")):
        out.append(_DIGITS[int(word)] if word.isdigit() and len(word) == 1 else word)
    return out


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level Levenshtein distance over the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


_CLOCK = re.compile(r"(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)")


def _times(text: str) -> list[float]:
    return [int(h or 0) * 3600 + int(m) * 60 + float(sec) for h, m, sec in _CLOCK.findall(text)]


def false_silences(result: Any, truth: dict[str, Any]) -> int:
    """Storyline sentences claiming silence over something audible in the truth (by more than 0.1 s).

    The claimed span is read from the sentence itself ("from 0:02.4 to 0:07.0 the audio is silent", "the silence
    lasts until 0:20.2" from the segment's start): what a reader is told."""
    audible = [(s["start"], s["end"]) for key in ("speech", "music", "sounds") for s in truth[key]]
    count = 0
    for segment in result.caption.storyline:
        for sentence in segment.sentences:
            for part in re.split(r"(?<=[.;])\s+", sentence.text):
                if not re.search(r"\bsilen", part, re.I):
                    continue
                times = _times(part)
                if len(times) >= 2:
                    claimed = (times[0], times[1])
                elif times:
                    claimed = (segment.span.start, times[0])
                else:
                    claimed = (segment.span.start, segment.span.end)
                if any(_overlap(claimed, span) > 0.1 for span in audible):
                    count += 1
    return count


def music_named(result: Any, truth: dict[str, Any]) -> str:
    """How much of the truth's music the storyline names as music (``FALSE``: music named that is not there).

    A clause naming music claims the span between its first two times: ``yes`` from 80% of the music on,
    ``partly (16%)`` below, ``no`` when music is never named."""
    claimed: list[tuple[float, float]] = []
    for segment in result.caption.storyline:
        for sentence in segment.sentences:
            for part in re.split(r"(?<=[.;])\s+", sentence.text):
                if re.search(r"\bmusic", part, re.I):
                    times = _times(part)
                    claimed.append((times[0], times[1]) if len(times) >= 2 else (segment.span.start, segment.span.end))
    if not truth["music"]:
        return "FALSE" if claimed else "—"
    if not claimed:
        return "no"
    total = sum(m["end"] - m["start"] for m in truth["music"])
    grid = [
        t / 10
        for m in truth["music"]
        for t in range(round(m["start"] * 10), round(m["end"] * 10))
        if any(a <= t / 10 < b for a, b in claimed)
    ]
    share = len(grid) / 10 / total
    return "yes" if share >= 0.8 else f"partly ({share:.0%})"


def measure(truth: dict[str, Any], scoring: Any, captions: Path | None) -> dict[str, Any]:
    """One clip's row: caption it offline and compare with its ground truth."""
    from detective.agent.detective import Detective

    started = time.perf_counter()
    result = Detective(captioner="template", offline=True).run(truth["path"])
    seconds = time.perf_counter() - started
    if captions is not None:
        (captions / f"{Path(truth['file']).stem}.md").write_text(result.caption_markdown, encoding="utf-8")
    said = " ".join(t.content for t in result.caption.transcript)
    turns = [
        (str(o.payload.speaker), o.span.start, o.span.end)
        for o in result.evidence.observations
        if o.tool == "speakers" and o.kind == "speaker" and o.span is not None
    ]
    reference = [(str(s), float(a), float(b)) for s, a, b in truth["turns"]]
    der = scoring.score(reference, turns, truth["duration"]).der if reference else None
    voices = sum(p.name.startswith("Speaker ") for p in result.caption.speakers)
    return {
        "clip": truth["file"],
        "WER": f"{wer(truth['transcript'], said):.3f}" if truth["transcript"] else "—",
        "speakers found/true": f"{voices}/{truth['speakers']}",
        "DER": f"{der:.3f}" if der is not None else "—",
        "false silence": false_silences(result, truth),
        "music named": music_named(result, truth),
        "shots with content": "—",
        "grounding": f"{result.grounding.score:.2f}" if result.grounding else "—",
        "wall s": f"{seconds:.1f}",
    }


def main(argv: list[str]) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", help="a folder holding the built corpus (built afresh if omitted)")
    parser.add_argument("--captions", help="also write each clip's caption Markdown into this folder")
    args = parser.parse_args(argv)
    builder = _module(REPO / "tests" / "fixtures" / "make_real_corpus.py", "make_real_corpus")
    scoring = _module(REPO / "observers" / "speakers" / "tests" / "scoring.py", "speaker_scoring")
    if args.corpus:
        root = Path(args.corpus)
        truth = builder.with_paths(root, json.loads((root / "ground_truth.json").read_text(encoding="utf-8")))
    else:
        truth = builder.build(tempfile.mkdtemp(prefix="omni-real-corpus-"))
    captions = Path(args.captions) if args.captions else None
    if captions is not None:
        captions.mkdir(parents=True, exist_ok=True)
    rows = [measure(clip, scoring, captions) for clip in truth["clips"].values()]
    head = list(rows[0])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(str(v) for v in row.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
