"""Benchmark the ``asr`` observer on speech in other languages: language named, error rate and CPU per clip.

Usage::

    python benchmarks/languages.py                 # the clips of tests/fixtures/make_language_fixtures.py
    python benchmarks/languages.py --model base    # another model choice (OMNI_DETECTIVE_ASR_MODEL's values)

Each clip (espeak-ng voices: Spanish, German, French, Italian, Russian, Chinese characters that this espeak-ng
build spells out as letter names, and an English/Spanish code-switched clip) is transcribed in this process with
the chosen model choice (default ``auto``). The table gives the languages the observer named (with their lowest
probability), the error rate of the words it wrote against the sentences they cover (WER on words normalised as
the cloze judge does; CER for Chinese), how many sentences were left untranscribed, and the CPU seconds of the
observe call over the clip's length. Models are loaded before the first clip, so CPU is the transcription's.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUILDER = REPO / "tests" / "fixtures" / "make_language_fixtures.py"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _clips() -> dict[str, Any]:
    """The language clips, built once into the fixture cache as the tests do."""
    digest = hashlib.sha256(BUILDER.read_bytes()).hexdigest()[:16]
    root = Path(os.environ.get("OMNI_DETECTIVE_FIXTURE_DIR", REPO / ".cache" / "fixtures")) / f"language-{digest}"
    if not (root / "ground_truth.json").exists():
        spec = importlib.util.spec_from_file_location("omni_make_language_fixtures", BUILDER)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.build(root)
    truth = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    for clip in truth.values():
        clip["path"] = str(root / clip["file"])
    return truth


def _edit_rate(reference: list[str], hypothesis: list[str]) -> float:
    row = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hypothesis, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(reference))


def main() -> None:
    """Print the per-clip table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model choice (default: $OMNI_DETECTIVE_ASR_MODEL, else auto)")
    args = parser.parse_args()
    from detective_asr import ASRTool
    from detective_asr import model as whisper
    from detective_cloze.lexical import normalise

    from detective.media import probe
    from detective.models import Query

    for name in (whisper.MULTILINGUAL_NAME, whisper.BUNDLED_MODEL_NAME):
        whisper.shared(whisper.bundled(name))
    tool = ASRTool(model=args.model)
    print(
        f"{'clip':8} {'said':10} {'named (lowest p)':24} {'rate':>10} {'untranscribed':>14} {'cpu s':>7} {'cpu/s':>6}"
    )
    print("-" * 86)
    for name, clip in _clips().items():
        before = _cpu()
        observations = tool.observe(probe(clip["path"]), Query(tool="asr"))
        cpu = _cpu() - before
        named: dict[str, float] = {}
        for obs in observations:
            if obs.payload.language:
                code = str(obs.payload.language)
                named[code] = min(named.get(code, 1.0), float(obs.payload.language_probability))
        covered, written, untold = [], [], 0
        for sentence in clip["speech"]:
            mine = [o for o in observations if o.span.start < sentence["end"] and o.span.end > sentence["start"]]
            words = [o.content for o in mine if o.payload.transcribed]
            if words:
                covered.append(sentence["text"])
            else:
                untold += 1
        written = [o.content for o in sorted(observations, key=lambda o: o.span.start) if o.payload.transcribed]
        reference, hypothesis = " ".join(covered), " ".join(written)
        if clip["script"] == "han":
            rate = _edit_rate([c for c in reference if c.isalnum()], [c for c in hypothesis if c.isalnum()])
            kind = "CER"
        else:
            rate = _edit_rate(normalise(reference), normalise(hypothesis))
            kind = "WER"
        said = "+".join(dict.fromkeys(s["language"] for s in clip["speech"]))
        shown = ", ".join(f"{c} ({p:.2f})" for c, p in named.items()) or "none"
        figure = f"{kind} {rate:.2f}" if written else "no words"
        print(
            f"{name:8} {said:10} {shown:24} {figure:>10} {untold:>6} of {len(clip['speech']):<5} "
            f"{cpu:7.1f} {cpu / clip['duration']:6.2f}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
