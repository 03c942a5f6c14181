"""The Omni-Cloze chain cannot score the wrong caption: ``run`` → ``cloze predict`` → ``cloze score``.

``run`` puts the caption of a record carrying ``cloze`` in ``predicted_caption`` and says so; ``predict`` names the
field it scores, refuses (exit 2) a field no record holds or a choice between two it was not told; ``predict`` and
``score`` exit 1 when a judge reply failed or a caption was missing, unless ``--allow-failures``.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import respx
from click.testing import CliRunner

from detective.cli.app import cli
from detective.cli.run import run
from detective.media import wav_bytes

from .conftest import URL, make_record, read_jsonl, write_jsonl


def _clip(folder: Path) -> Path:
    t = np.arange(16000) / 16000.0
    path = folder / "tone.wav"
    path.write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * 440.0 * t)))
    return path


def _run(manifest: Path, out: Path, *extra: str) -> object:
    args = ["--input", str(manifest), "--output", str(out), "--offline", "--tools", "audio_events", *extra]
    return CliRunner().invoke(run, [*args, "--captioner", "template", "--no-progress"])


def test_run_writes_cloze_captions_to_predicted_caption_and_predict_scores_them(tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    hand = "HAND-WRITTEN caption that must not be scored"
    records = [{**make_record(i, ["A", "B"], caption=hand), "video_path": str(clip)} for i in (1, 2)]
    manifest = write_jsonl(tmp_path / "cloze.jsonl", records)
    out = tmp_path / "captions.jsonl"
    result = _run(manifest, out)
    assert result.exit_code == 0, result.stderr
    assert "their captions go to 'predicted_caption'" in result.stderr
    written = read_jsonl(out)
    assert all("caption" not in r and r["predicted_caption"].startswith("## Storyline") for r in written)
    assert all(hand not in r["predicted_caption"] for r in written)

    judged = tmp_path / "judged.jsonl"
    predicted = CliRunner().invoke(cli, ["cloze", "predict", "--judge", "lexical", "-i", str(out), "-o", str(judged)])
    assert predicted.exit_code == 0, predicted.output
    assert "scoring the captions in 'predicted_caption' (2 of 2 records hold one)" in predicted.stderr


def test_run_caption_field_still_overrides(tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    manifest = write_jsonl(tmp_path / "c.jsonl", [{**make_record(1, ["A"], caption=None), "video_path": str(clip)}])
    out = tmp_path / "o.jsonl"
    result = _run(manifest, out, "--caption-field", "caption")
    assert result.exit_code == 0, result.stderr
    assert "predicted_caption" not in result.stderr
    assert "caption" in read_jsonl(out)[0] and "predicted_caption" not in read_jsonl(out)[0]


def test_predict_refuses_when_both_captions_exist_without_a_choice(tmp_path: Path) -> None:
    record = {**make_record(1, ["A"], caption="hand-written"), "caption": "## Storyline\n", "caption_struct": {}}
    src = write_jsonl(tmp_path / "in.jsonl", [record])
    args = ["cloze", "predict", "--judge", "lexical", "-i", str(src), "-o", str(tmp_path / "o.jsonl")]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2, refused.output
    assert "--caption-field caption" in refused.output and not (tmp_path / "o.jsonl").exists()
    chosen = CliRunner().invoke(cli, [*args, "--caption-field", "caption"])
    assert chosen.exit_code == 0, chosen.output
    assert "scoring the captions in 'caption'" in chosen.stderr


def test_predict_refuses_a_field_no_record_holds(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A"], caption=None)])
    args = ["cloze", "predict", "--judge", "lexical", "-i", str(src), "-o", str(tmp_path / "o.jsonl")]
    for extra in ([], ["--caption-field", "my_caption"]):
        result = CliRunner().invoke(cli, [*args, *extra])
        assert result.exit_code == 2, result.output
        assert "no record holds a caption" in result.output


def test_missing_captions_fail_predict_and_score_unless_allowed(tmp_path: Path) -> None:
    src = write_jsonl(
        tmp_path / "in.jsonl", [make_record(1, ["A"], caption="opt-1-A"), make_record(2, ["B"], caption=None)]
    )
    out = tmp_path / "o.jsonl"
    args = ["cloze", "predict", "--judge", "lexical", "-i", str(src), "-o", str(out)]
    failed = CliRunner().invoke(cli, args)
    assert failed.exit_code == 1 and "1 record(s) without a caption" in failed.output
    assert CliRunner().invoke(cli, [*args, "--allow-failures"]).exit_code == 0
    score = CliRunner().invoke(cli, ["cloze", "score", "-i", str(out)])
    assert score.exit_code == 1 and "caption missing: 1 of 2 records" in score.output
    assert "OVERALL" in score.output  # the table is still printed
    assert CliRunner().invoke(cli, ["cloze", "score", "-i", str(out), "--allow-failures"]).exit_code == 0


@respx.mock
def test_failed_judge_replies_fail_predict_and_score(tmp_path: Path, judge_env: None) -> None:
    reply = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "no idea"}, "finish_reason": "stop"}]}
    respx.post(URL).mock(return_value=httpx.Response(200, json={**reply, "id": "x", "model": "m", "object": "x"}))
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(i, ["A", "B"]) for i in (1, 2, 3)])
    out = tmp_path / "o.jsonl"
    args = ["cloze", "predict", "-i", str(src), "-o", str(out), "--repair-attempts", "0", "--no-cache"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "3 judge repl(ies) unreadable" in result.output
    summary = json.loads(next(line for line in result.stderr.splitlines() if line.startswith("{")))
    assert summary["judge_failures"] == 3
    score = CliRunner().invoke(cli, ["cloze", "score", "-i", str(out)])
    assert score.exit_code == 1 and "judge failures: 3 of 3 records" in score.output
