"""One configuration: DetectiveConfig is the single home of the defaults, serialises, and drives the graph alone."""

from __future__ import annotations

import asyncio
import json

import pytest

from detective.agent.config import Budget, DetectiveConfig
from detective.agent.detective import Detective
from detective.agent.graph import graph, stop_reason
from detective.models import MediaInfo
from detective.runtime import RunServices
from detective.testing.fakes import ASRTool, EchoTool


def test_defaults_live_in_the_config_and_the_detective_uses_them() -> None:
    det = Detective(tools=[EchoTool()], planner="rule", captioner="evidence", offline=True)
    assert det.config.max_rounds == DetectiveConfig().max_rounds == 6
    assert det.config.max_queries_per_round == 16 and det.config.max_concurrency == 4
    # objects handed to the Detective are registered for its runs under their names: the config holds names only
    assert det.config.tools == ["echo"] and det.config.planner == "rule" and det.config.captioner == "evidence"
    assert det.tools["echo"].name == "echo"


def test_the_config_is_plain_json_with_a_schema() -> None:
    config = DetectiveConfig(tools=["asr"], max_rounds=2, budget=Budget(max_calls=5), max_queries_per_round=3)
    again = DetectiveConfig.model_validate(json.loads(config.model_dump_json()))
    assert again == config
    schema = DetectiveConfig.model_json_schema()
    assert {"tools", "planner", "captioner", "max_rounds", "max_queries_per_round", "budget", "mode"} <= set(
        schema["properties"]
    )
    assert "max_rounds" in graph.get_context_jsonschema()["properties"]


def test_keywords_override_the_config_and_unknown_options_are_refused() -> None:
    base = DetectiveConfig(max_rounds=2, max_queries_per_round=1)
    det = Detective(tools=[EchoTool()], planner="rule", captioner="evidence", config=base, max_rounds=3, offline=True)
    assert det.config.max_rounds == 3 and det.config.max_queries_per_round == 1
    with pytest.raises(ValueError, match="max_round"):
        Detective(tools=[EchoTool()], planner="rule", captioner="evidence", max_round=3)


def test_environment_fallback() -> None:
    env = {"OMNI_DETECTIVE_MAX_ROUNDS": "2", "OMNI_DETECTIVE_TOOLS": "asr, ocr", "OMNI_DETECTIVE_OFFLINE": "yes"}
    config = DetectiveConfig.from_env(env, max_rounds=None, planner="rule")
    assert config.max_rounds == 2 and config.tools == ["asr", "ocr"] and config.offline and config.planner == "rule"
    assert DetectiveConfig.from_env(env, max_rounds=4).max_rounds == 4


def test_max_queries_per_round_is_honoured(audio: MediaInfo) -> None:
    from detective.models import TimeSpan
    from detective.planning import Plan, Planner

    class Many(Planner):
        name = "many"

        async def plan(self, inp):
            if inp.round > 1:
                return Plan(finish=True)
            spans = [TimeSpan(start=0, end=i + 1) for i in range(5)]
            return Plan(queries=[EchoTool().recheck_queries(inp.media, inp.evidence, s, ["x"])[0] for s in spans])

    det = Detective(tools=[EchoTool()], planner=Many(), captioner="evidence", max_queries_per_round=2, offline=True)
    result = asyncio.run(det.arun(audio.source, media=audio))
    assert [len(r.ran) for r in result.rounds] == [2]  # the closing turn is not a round
    assert result.usage.tool_calls == {"echo": 2}


def test_stop_rule_is_one_function_in_a_fixed_order() -> None:
    config = DetectiveConfig(max_rounds=2, budget=Budget(max_calls=1))
    services = RunServices()
    assert stop_reason({}, config, services) is None
    assert stop_reason({"round": 1, "last_queries": []}, config, services) == "no new queries"
    assert stop_reason({"round": 1, "planner_done": "", "last_queries": []}, config, services) == (
        "planner finished: case closed"
    )
    done = {"round": 2, "last_queries": ["q"]}
    assert stop_reason(done, config, services) == "max_rounds (2) reached"
    services.usage.tool_calls["asr"] = 1
    assert stop_reason({"round": 1, "last_queries": ["q"]}, config, services) == "budget: 1 calls spent"


def test_the_graph_runs_on_its_own_from_a_source_and_names(demo_path: str) -> None:
    """What LangGraph Studio does: a path in the input, names in the context, nothing else."""
    context = DetectiveConfig(tools=["shots"], planner="rule", captioner="evidence", offline=True, max_rounds=2)
    out = asyncio.run(graph.ainvoke({"source": demo_path}, context=context.model_dump()))
    assert out["media"].source == demo_path and out["media"].has_video
    assert any(o.tool == "shots" for o in out["evidence"].observations)
    assert out["caption_markdown"].strip() and out["stop_reason"]
    assert out["usage"].tool_calls["shots"] >= 1
    assert [r.round for r in out["rounds"]] == list(range(1, len(out["rounds"]) + 1))


def test_direct_mode_is_a_branch_of_the_graph(audio: MediaInfo) -> None:
    from detective.captioning import Captioner, CaptionOutput
    from detective.models import Caption

    class Omni(Captioner):
        name = "omni"

        async def caption(self, job):
            assert not job.evidence.observations
            return CaptionOutput(caption=Caption(), markdown="A tone.", notes=["direct"])

    det = Detective(tools=[ASRTool()], captioner=Omni(), mode="direct", offline=True)
    result = asyncio.run(det.arun(audio.source, media=audio))
    assert result.stop_reason == "direct mode" and result.caption_markdown == "A tone."
    assert result.rounds == [] and result.usage.tool_calls == {} and result.grounding is None


def test_direct_mode_offline_says_why_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="cannot run offline") as info:
        Detective(mode="direct", offline=True)
    assert "run offline" not in str(info.value).replace("cannot run offline", "")


def test_caption_and_run_build_the_config_through_one_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    from detective.cli.options import config_default, detective_config

    monkeypatch.setenv("OMNI_DETECTIVE_MAX_ROUNDS", "3")
    config = detective_config(tools=" asr, shots,", strict_grounding=True, max_rounds=None, offline=True)
    assert config.tools == ["asr", "shots"] and config.max_rounds == 3  # not given: the variable
    assert config.captioner_options == {"strict_grounding": True} and config.offline
    assert detective_config(max_rounds=2, no_prompt=True).captioner_options == {"no_prompt": True}
    assert detective_config(max_rounds=2).max_rounds == 2  # given: the option wins
    assert config_default("download_timeout") == "600" and config_default("max_rounds") == "6"


def test_batch_and_job_configs_share_one_set_of_bounds(tmp_path) -> None:
    from dataclasses import fields

    from detective.agent.batch import BatchConfig, job_config
    from detective.jobs import JobBounds

    config = BatchConfig(tmp_path / "in.jsonl", tmp_path / "out.jsonl", workers=3, limit=5, processes=2)
    job = job_config(config)
    assert {f.name: getattr(job, f.name) for f in fields(JobBounds)} == config.bounds()
    assert job.workers == 3 and job.limit == 5 and job.errors_path == tmp_path / "out.errors.jsonl"
    for bad in ({"workers": 0}, {"retries": -1}, {"limit": 0}, {"processes": 0}):
        with pytest.raises(ValueError):
            BatchConfig(tmp_path / "in.jsonl", tmp_path / "out.jsonl", **bad)


def test_planner_captioner_and_judge_share_one_estimator_and_repair_count() -> None:
    from detective_captioning.llm import LLMCaptioner
    from detective_cloze.judges import LLMJudge

    from detective.agent import llm_planner
    from detective.llm.capabilities import MAX_REPAIRS, estimate_tokens

    assert llm_planner.MAX_REPAIRS == LLMCaptioner.max_repairs == MAX_REPAIRS
    assert LLMJudge(RunServices()).repair_attempts == MAX_REPAIRS
    assert estimate_tokens("abcdef") == 3  # 6 bytes at 3 a token, plus one
    messages = [{"role": "system", "content": "abc"}, {"role": "user", "content": "é" * 3}]
    assert estimate_tokens(messages) == (3 + 6) // 3 + 2 * 4  # contents' UTF-8 bytes, plus 4 per message
