"""The ``omni-detective cloze`` commands through the root CLI, and the plugin's registrations."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx
from click.testing import CliRunner
from detective_cloze.judges import LexicalJudge, LLMJudge
from detective_cloze.prompts import PROMPT_HASH

from detective.cli.app import cli
from detective.plugins import get_registry

from .conftest import URL, make_record, read_jsonl, write_jsonl
from .test_predict import fake_judge

REPO = Path(__file__).resolve().parents[2]
COMMITTED_DEMO = REPO / "examples" / "cloze" / "demo_cloze.jsonl"

# Checked by hand against DEMO_CAPTION (see detective_cloze/demo.py): what the lexical proxy picks, blank by blank.
# E where the caption names several options (e.g. both "white" and "yellow" text) or none (the slate grid);
# 2/9 is the caption's deliberate error (880 Hz instead of 1000 Hz).
DEMO_LEXICAL = {
    1: "B E E D B C A D E D",
    2: "B E E E B C A E B B",
    3: "E B E E B A C D E E",
}


def test_root_cli_has_the_cloze_group() -> None:
    cli.load_plugin_commands()  # the root group adds plugins' commands on first need
    assert "cloze" in cli.commands
    assert set(cli.commands["cloze"].commands) == {"predict", "score", "make-demo"}


def test_evaluators_are_registered() -> None:
    registry = get_registry()
    assert registry.evaluators["cloze-llm"].plugin == "cloze"
    assert isinstance(registry.make("evaluators", "cloze-lexical"), LexicalJudge)
    assert isinstance(registry.make("evaluators", "cloze-llm"), LLMJudge)


def test_make_demo_matches_the_committed_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["cloze", "make-demo", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    made = read_jsonl(tmp_path / "demo_cloze.jsonl")
    committed = read_jsonl(COMMITTED_DEMO)
    assert len(made) == 3 and all(len(r["predicted_caption"]) > 500 for r in made)
    clip = REPO / "examples" / "media" / "demo.mp4"
    # outside the checkout the clip is copied beside the set: no path climbs back into the checkout
    assert all(r["video_path"] == "demo.mp4" for r in made)
    assert (tmp_path / "demo.mp4").read_bytes() == clip.read_bytes()
    assert all((COMMITTED_DEMO.parent / r["video_path"]).resolve() == clip for r in committed)
    for record in made + committed:
        record.pop("video_path")
    assert made == committed


def test_demo_end_to_end_offline(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "pred.jsonl"
    result = runner.invoke(
        cli, ["cloze", "predict", "--judge", "lexical", "--input", str(COMMITTED_DEMO), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    for record in read_jsonl(out):
        expected = DEMO_LEXICAL[record["uuid"]].split()
        assert [record["predictions"][str(i + 1)] for i in range(10)] == expected
    scored = runner.invoke(cli, ["cloze", "score", "--input", str(out), "--json"])
    assert scored.exit_code == 0, scored.output
    result_json = json.loads(scored.output)
    overall = result_json["overall"]
    # 30 blanks: 17 correct, 1 wrong, 12 not given, as counted from DEMO_LEXICAL against the gold letters
    assert (overall["total"], overall["correct"], overall["wrong"], overall["not_given"]) == (30, 17, 1, 12)
    assert overall["net"] == pytest.approx(16 / 30, abs=1e-6)
    assert set(result_json["by_modality"]) == {"visual", "auditory", "audio-visual"}
    assert "proxy" in result_json["judges"][0]
    table = runner.invoke(cli, ["cloze", "score", "--input", str(out), "--show-subcategory"])
    assert table.exit_code == 0
    assert "NOTE: offline lexical proxy" in table.output
    assert "Science & Technology / Demo reel: opening" in table.output


@respx.mock
def test_predict_llm_and_score_record_the_judge(tmp_path: Path, judge_env: None) -> None:
    route = respx.post(URL).mock(side_effect=fake_judge)
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A", "B"], caption="opt-1-A is there")])
    out = tmp_path / "out.jsonl"
    runner = CliRunner()
    args = ["cloze", "predict", "-i", str(src), "-o", str(out), "--workers", "2", "--model", "judge-x"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(route.calls[0].request.content)["model"] == "judge-x"
    assert (tmp_path / "out.jsonl.judge-cache.sqlite").exists()
    assert read_jsonl(out)[0]["predictions"] == {"1": "A", "2": "E"}
    scored = runner.invoke(cli, ["cloze", "score", "-i", str(out), "--json"])
    judges = json.loads(scored.output)["judges"]
    assert judges == [
        {
            "name": "cloze-llm",
            "model": "judge-x",
            "endpoint_host": "judge.test",
            "prompt_hash": PROMPT_HASH,
            "records": 1,
        }
    ]
    # the same command again: everything is already in the output, nothing is asked
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and route.call_count == 1


@respx.mock
def test_predict_exits_nonzero_when_the_judge_is_unreachable(tmp_path: Path, judge_env: None) -> None:
    respx.post(URL).mock(return_value=httpx.Response(503))
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A"])])
    result = CliRunner().invoke(cli, ["cloze", "predict", "-i", str(src), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 1
    assert "could not reach the judge" in result.output


def test_predict_llm_without_key_points_to_lexical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OMNI_DETECTIVE_JUDGE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A"])])
    result = CliRunner().invoke(cli, ["cloze", "predict", "-i", str(src), "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code != 0
    assert "--judge lexical" in result.output


def test_help_labels_the_lexical_judge_a_proxy() -> None:
    result = CliRunner().invoke(cli, ["cloze", "predict", "--help"])
    assert "OFFLINE PROXY" in result.output


def test_score_rejects_a_file_without_judged_records(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [make_record(1, ["A"])])
    result = CliRunner().invoke(cli, ["cloze", "score", "-i", str(src)])
    assert result.exit_code != 0 and "no graded blanks" in result.output


@pytest.mark.parametrize(("terminated", "code"), [(False, 130), (True, 143)])
def test_predict_stopped_exits_130_or_143(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminated: bool, code: int
) -> None:
    import detective_cloze.cli as cloze_cli

    from detective.cli import exits

    async def stopped(*_: object, **__: object) -> None:
        raise KeyboardInterrupt  # what Ctrl-C (or SIGTERM, handled as Ctrl-C) raises mid-run

    monkeypatch.setattr(cloze_cli, "run_predict", stopped)
    monkeypatch.setitem(exits._state, "terminated", terminated)
    source = tmp_path / "in.jsonl"
    write_jsonl(source, [make_record(1, ["A"])])
    args = ["cloze", "predict", "--input", str(source), "-o", str(tmp_path / "o.jsonl"), "--judge", "lexical"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code and "Aborted" not in result.output
