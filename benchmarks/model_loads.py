"""How often a small batch loads the observers' models, and what the batch costs (wall and CPU seconds).

Captions the fixture clips (``tests/fixtures/make_fixtures.py``) and the demo clip offline with the four observers
that load a model (``asr``, ``ocr``, ``scene``, ``audio_tags``), the rule planner and the template captioner, on the
local executor with ``--workers`` Detectives. Each model class's constructor is wrapped to count its loads:
Whisper (``faster_whisper.WhisperModel``), PP-OCR (``OCREngine``), the scene engine (``SceneEngine``) and YAMNet.

``--fresh-tools`` builds each Detective with tool objects of its own (``Detective(tools=[ASRTool(), ...])``) instead
of the registered tools' names, to show whether tool instances share what they loaded.

    python benchmarks/model_loads.py                  # registered tools, 2 workers
    python benchmarks/model_loads.py --fresh-tools    # a new tool object per Detective
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import importlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOOLS = ("asr", "ocr", "scene", "audio_tags")
#: (module, class) of every model the four observers load.
MODELS = (
    ("faster_whisper", "WhisperModel"),
    ("detective_ocr.engine", "OCREngine"),
    ("detective_scene.engine", "SceneEngine"),
    ("detective_audio_tags.model", "YAMNet"),
)


def count_loads() -> collections.Counter[str]:
    """Wrap each model class's ``__init__`` so every load is counted (by class name)."""
    loads: collections.Counter[str] = collections.Counter()
    for module_name, class_name in MODELS:
        cls = getattr(importlib.import_module(module_name), class_name)
        original = cls.__init__

        def counted(self: Any, *args: Any, __original: Any = original, __name: str = class_name, **kw: Any) -> None:
            loads[__name] += 1
            __original(self, *args, **kw)

        cls.__init__ = counted
    return loads


def clips() -> list[str]:
    """The fixture clips and the demo clip (built once into ``.cache/fixtures`` like the tests' fixtures)."""
    sys.path.insert(0, str(REPO / "tests"))
    import conftest

    builder = conftest._builder()
    root = conftest._built_once(conftest.BUILDER, "", builder.build_fixtures)
    truth = builder.with_paths(root, json.loads((root / "ground_truth.json").read_text(encoding="utf-8")))
    return [c["path"] for c in truth["clips"].values()] + [str(conftest.DEMO)]


def factory(fresh: bool) -> Any:
    """A Detective factory: registered tool names, or new tool objects per Detective."""
    from detective.agent.detective import Detective

    if not fresh:
        return lambda: Detective(tools=list(TOOLS), planner="rule", captioner="template", offline=True)
    from detective_asr.tool import ASRTool
    from detective_audio_tags.tool import AudioTagsTool
    from detective_ocr.tool import OCRTool
    from detective_scene.tool import SceneTool

    return lambda: Detective(
        tools=[ASRTool(), OCRTool(), SceneTool(), AudioTagsTool()], planner="rule", captioner="template", offline=True
    )


def main() -> None:
    """Run the batch and print the loads, wall and CPU seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fresh-tools", action="store_true")
    args = parser.parse_args()
    os.environ["OMNI_DETECTIVE_OFFLINE"] = "1"
    from detective.agent.batch import BatchConfig, run_batch

    paths = clips()
    loads = count_loads()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "clips.jsonl"
        manifest.write_text("".join(json.dumps({"id": Path(p).stem, "path": p}) + "\n" for p in paths))
        out = Path(tmp) / "out.jsonl"
        config = BatchConfig(input_path=manifest, output_path=out, workers=args.workers, progress=False)
        started, cpu = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
        with open(os.devnull, "w") as quiet:
            summary = run_batch(config, factory(args.fresh_tools), stream=quiet)
        done = resource.getrusage(resource.RUSAGE_SELF)
        records = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda r: r["id"])
    captions = hashlib.sha256("".join(r["caption"] for r in records).encode()).hexdigest()[:12]
    seconds = done.ru_utime + done.ru_stime - cpu.ru_utime - cpu.ru_stime
    print(f"clips {len(paths)}  done {summary.done}  failed {summary.failed}  workers {args.workers}")
    print(f"model loads {dict(sorted(loads.items()))}  total {sum(loads.values())}")
    print(f"wall {time.monotonic() - started:.1f} s  cpu {seconds:.1f} s  captions sha256 {captions}")


if __name__ == "__main__":
    main()
