"""The offline Detective on the footage part of the real-media corpus: what the caption names in each real shot.

Usage::

    python benchmarks/real_footage.py            # builds the corpus (needs Debian's opencv-doc) into a temp dir
    python benchmarks/real_footage.py --root DIR # an already built corpus (tests/fixtures/make_real_footage.py)

For every clip it runs ``Detective(tools=["shots", "scene"], offline=True)`` and prints, per ground-truth shot,
the truth (people / vehicles / animals and the shot's name), the content nouns the caption names there
(:func:`make_real_footage.caption_nouns`: "the picture appears to show …", "one person is visible" → people),
which of them are correct and which false, and the CPU seconds per clip second of the ``scene`` runs. The last
lines give the totals against issue 22's target: at least half of the real shots with a correct content noun,
no false one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUILDER = REPO / "tests" / "fixtures" / "make_real_footage.py"


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("omni_make_real_footage", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shot_rows(builder: Any, clip: dict[str, Any]) -> tuple[list[dict[str, Any]], float]:
    """One row per ground-truth shot of ``clip`` (nouns named, correct, false) and the run's CPU seconds."""
    from detective import Detective

    started = time.process_time()
    result = Detective(tools=["shots", "scene"], offline=True).run(clip["path"])
    cpu = time.process_time() - started
    rows = []
    for shot in clip["shots"]:
        text = " ".join(
            seg.text
            for seg in result.caption.storyline
            if min(seg.span.end, shot["end"]) - max(seg.span.start, shot["start"]) >= 0.5 * seg.span.duration
        )
        named = builder.caption_nouns(text)
        correct, false = builder.judge(shot, named)
        rows.append({"shot": shot, "named": sorted(named), "correct": correct, "false": false})
    return rows, cpu


def main() -> None:
    """Build or read the corpus, caption every clip, print the per-shot table and the totals."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, help="an already built corpus folder")
    args = parser.parse_args()
    builder = _builder()
    with tempfile.TemporaryDirectory(prefix="omni-footage-") as tmp:
        root = args.root or Path(tmp)
        if not (root / "ground_truth.json").exists():
            builder.build(root)
        truth = builder.with_paths(root, json.loads((root / "ground_truth.json").read_text(encoding="utf-8")))
        print(f"{'clip':12} {'shot':7} {'truth':44} {'caption names':40} {'false'}")
        shots = named = false = 0
        for name, clip in truth["clips"].items():
            rows, cpu = shot_rows(builder, clip)
            for row in rows:
                shot = row["shot"]
                kinds = [k for k in ("people", "vehicles", "animals") if shot[k]]
                told = f"{shot['name'][:30]} [{','.join(kinds) or '-'}]"
                print(
                    f"{name:12} {shot['start']:5.1f}s  {told:44} {', '.join(row['named']) or '-':40} "
                    f"{', '.join(row['false']) or '-'}"
                )
                shots += 1
                named += bool(row["correct"])
                false += len(row["false"])
            print(f"{'':12} detective (shots + scene) CPU {cpu:.2f} s for {clip['duration']:.1f} s of clip")
        print(f"\nreal shots with a correct content noun: {named}/{shots} (target at least {shots / 2:.1f})")
        print(f"false content nouns: {false} (target 0)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
