"""Every example script runs, offline, on small inputs, and does what its docstring says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .conftest import run_example

FAST = "shots,audio_events"  # the two quickest local tools, so each example finishes in seconds


def test_caption_one(demo_path: str, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    proc = run_example("caption_one.py", demo_path, "--tools", FAST, "--max-rounds", "2", "--json", str(out))
    assert proc.stdout.startswith("## Storyline\n00:00.000 - 00:05.000\n")
    assert "observations from ['audio_events', 'shots']" in proc.stdout
    result = json.loads(out.read_text(encoding="utf-8"))
    assert [o["content"] for o in result["evidence"]["observations"] if o["kind"] == "shot"] == [
        "shot 1",
        "shot 2",
        "shot 3",
        "shot 4",
    ]


def test_custom_tool_finds_the_tone(demo_path: str) -> None:
    proc = run_example("custom_tool.py", demo_path, "--with", FAST)
    # the demo's loudest second is its 1 kHz tone at 10.8-12.0 s, about -11 dBFS
    match = re.search(r"loudest_moment said: The loudest second starts at (\d+) s, at (-?[\d.]+) dBFS", proc.stdout)
    assert match, proc.stdout
    assert int(match.group(1)) in {10, 11} and -14.0 < float(match.group(2)) < -8.0
    # it reached the caption, stated as the observer's report
    assert "the loudest second starts at" in proc.stdout.split("## Storyline", 1)[1].lower()


def test_langchain_tool(demo_path: str) -> None:
    proc = run_example("langchain_tool.py", demo_path, "--with", "shots")
    assert "stream_inspector said: Asked “Describe the video" in proc.stdout
    assert "20.0 s long" in proc.stdout and "h264 640x360 at 25 fps" in proc.stdout and "aac at 44100 Hz" in proc.stdout
    assert "4 storyline segments" in proc.stdout


def test_batch_manifest_runs_and_resumes(demo_path: str, tmp_path: Path) -> None:
    args = (demo_path, "--out", str(tmp_path), "--tools", FAST, "--workers", "1")
    first = run_example("batch_manifest.py", *args)
    assert "done 1, failed 0, skipped 0" in first.stdout
    record = json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))
    assert record["id"] == "clip-1" and record["batch"] == "example"
    assert {"caption", "caption_struct", "evidence", "usage", "provenance"} <= set(record)
    second = run_example("batch_manifest.py", *args)
    assert "done 0, failed 0, skipped 1" in second.stdout
    assert len((tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_cloze_eval(tmp_path: Path) -> None:
    out = tmp_path / "judged.jsonl"
    proc = run_example("cloze_eval.py", "--tools", "shots,audio_events,asr", "--max-rounds", "2", "--out", str(out))
    assert "NOTE: offline lexical proxy" in proc.stdout
    overall = re.search(r"^OVERALL\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", proc.stdout, re.M)
    assert overall, proc.stdout
    blanks, correct, wrong, not_given = map(int, overall.groups())
    judged = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert blanks == sum(len(r["predictions"]) for r in judged) and correct + wrong + not_given == blanks
    assert correct >= 1  # ASR hears the spoken words the auditory blanks ask about
    assert all(r["predicted_caption"].startswith("## Storyline") for r in judged)


def test_live_investigation_prints_rounds_then_the_caption(demo_path: str) -> None:
    proc = run_example("live_investigation.py", demo_path, "--tools", "shots,asr,ocr", "--max-rounds", "3")
    lines = proc.stdout.splitlines()
    # round 1 runs what OCR builds on (shots); ASR, which nothing waits for, runs beside OCR in round 2
    assert lines[0] == "round 1: asking shots"
    second = next(line for line in lines if line.startswith("round 2: asking "))
    assert "asr" in second and "ocr" in second
    assert any(line.startswith("  asr: ") and "Welcome" in line for line in lines)
    assert any(line.startswith("  ocr: ") for line in lines)
    at = next(i for i, line in enumerate(lines) if line.startswith("caption ("))
    assert lines[at + 1] == "## Storyline" and lines[-1].startswith("done in ")
