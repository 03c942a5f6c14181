"""Score the Detective's captions on an Omni-Cloze set: caption each clip, judge the blanks, print the table.

Offline by default with the **lexical proxy judge** (its numbers are not comparable to published Omni-Cloze
scores); ``--judge llm`` uses the real protocol through OPENAI_API_KEY / OPENAI_BASE_URL or the ``judge`` role's
OMNI_DETECTIVE_JUDGE_* variables. The command-line equivalent is ``omni-detective run --caption-field
predicted_caption`` then ``omni-detective cloze predict`` and ``omni-detective cloze score``.

    python examples/cloze_eval.py [examples/cloze/demo_cloze.jsonl] [--tools shots,asr] [--out judged.jsonl]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from detective_cloze.scoring import format_table, score_records

from detective import Detective
from detective.plugins import get_registry

HERE = Path(__file__).resolve().parent
DEMO_SET = HERE / "cloze" / "demo_cloze.jsonl"


def clip_of(record: dict[str, Any], manifest: Path) -> Path:
    """The clip a cloze record is about; relative paths resolve against the manifest's folder."""
    raw = record.get("video_path") or record.get("audio_path") or record.get("path")
    if not raw:
        raise SystemExit(f"{manifest}: record {record.get('uuid')!r} names no clip (video_path/audio_path/path)")
    path = Path(raw)
    return path if path.is_absolute() else (manifest.parent / path).resolve()


async def evaluate(manifest: Path, detective: Detective, judge_name: str) -> list[dict[str, Any]]:
    """Caption every distinct clip once, then judge each record's blanks against its clip's caption."""
    records = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    captions: dict[Path, str] = {}
    for record in records:
        clip = clip_of(record, manifest)
        if clip not in captions:
            result = await detective.arun(str(clip))
            captions[clip] = result.caption_markdown
        record["predicted_caption"] = captions[clip]
    judge = get_registry().make("evaluators", judge_name)  # registered by the cloze plugin
    return [await judge.judge(record) for record in records]


def main() -> None:
    """Parse the arguments, evaluate and print the score table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", nargs="?", default=str(DEMO_SET), help="Omni-Cloze JSONL (default: the demo set)")
    parser.add_argument("--tools", default=None, help="comma list of tool names (default: every local tool)")
    parser.add_argument("--max-rounds", type=int, default=6)
    parser.add_argument("--judge", choices=["lexical", "llm"], default="lexical")
    parser.add_argument("--out", default=None, help="also write the judged records (JSONL) here")
    args = parser.parse_args()

    online = args.judge == "llm"
    detective = Detective(
        tools=args.tools.split(",") if args.tools else None, max_rounds=args.max_rounds, offline=not online
    )
    judged = asyncio.run(evaluate(Path(args.manifest), detective, f"cloze-{args.judge}"))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in judged)
    print(format_table(score_records(judged), show_subcategory=True))


if __name__ == "__main__":
    main()
