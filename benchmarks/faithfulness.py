"""Faithfulness of offline captions on the fixture clips: transcript word precision against the script, names
shown on screen and spoken that reach the transcript as shown, and the grounding figure.

    python benchmarks/faithfulness.py [FIXTURE_DIR]

Builds the fixtures (Debian's ffmpeg and espeak-ng) unless FIXTURE_DIR already holds them, captions each clip
offline with the template captioner, and prints a Markdown table.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("make_fixtures", REPO / "tests" / "fixtures" / "make_fixtures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def words(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return re.findall(r"[a-z0-9']+", text.lower())


def measure(truth: dict[str, Any]) -> dict[str, Any]:
    """One clip's row: caption it offline and compare with its ground truth."""
    from detective.agent.detective import Detective

    started = time.perf_counter()
    result = Detective(captioner="template", offline=True).run(truth["path"])
    seconds = time.perf_counter() - started
    script = [w for s in truth["speech"] for w in words(s["text"])]
    said = [w for t in result.caption.transcript for w in words(t.content.replace("[unclear]", " "))]
    vocabulary = set(script)
    correct = sum(w in vocabulary for w in said)
    unclear = sum(t.content.count("[unclear]") for t in result.caption.transcript)
    shown = {t["text"] for t in truth["texts"]}
    names = {
        name
        for s in truth["speech"]
        for text in shown
        for name in re.findall(r"[A-Z][a-z]+ [A-Z][a-z]+", text)
        if name in s["text"]
    }
    transcript = " ".join(t.content for t in result.caption.transcript)
    return {
        "clip": Path(truth["path"]).name,
        "script words": len(script),
        "stated words": len(said),
        "precision": correct / len(said) if said else 1.0,
        "recall": len(vocabulary & set(said)) / len(vocabulary) if vocabulary else 1.0,
        "[unclear]": unclear,
        "names shown+spoken": len(names),
        "names in transcript": sum(n in transcript for n in names),
        "repairs": sum(1 for line in _cross(result) if "The transcript uses" in line),
        "grounding": result.grounding.score if result.grounding else float("nan"),
        "claims": result.grounding.claims if result.grounding else 0,
        "seconds": seconds,
    }


def _cross(result: Any) -> list[str]:
    body = next((s.body for s in result.caption.sections if s.title == "Cross-checks"), "")
    return body.splitlines()


def main(argv: list[str]) -> int:
    """Print the table."""
    builder = _builder()
    if argv:
        root = Path(argv[0])
        truth = builder.with_paths(root, json.loads((root / "ground_truth.json").read_text(encoding="utf-8")))
    else:
        truth = builder.build_fixtures(tempfile.mkdtemp(prefix="omni-faithfulness-"))
    clips = [c for c in truth["clips"].values() if c["speech"]]
    demo = REPO / "examples" / "media" / "demo.mp4"
    if demo.exists():
        clips.append({**builder.DEMO, "path": str(demo)})
    rows = [measure(c) for c in clips]
    head = list(rows[0])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |")
    said = sum(r["stated words"] for r in rows)
    right = sum(r["precision"] * r["stated words"] for r in rows)
    print(f"\nall clips: word precision {right / said:.3f} over {said} stated words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
