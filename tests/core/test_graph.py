"""The Detective graph: the drawing, the RulePlanner loop and every stop rule."""

from __future__ import annotations

import asyncio
import functools

import pytest

from detective.agent.config import Budget
from detective.agent.detective import Detective
from detective.agent.graph import graph
from detective.evidence.coverage import NoEvidenceError
from detective.models import MediaInfo, Observation, TimeSpan
from detective.planning import Plan, Planner
from detective.testing.fakes import ASRTool, EchoTool, OCRTool, ShotsTool
from detective.tools import Tool


def run(det: Detective, media: MediaInfo):
    return asyncio.run(det.arun(media.source, media=media))


def test_mermaid_shows_the_loop_its_one_router_and_the_direct_branch() -> None:
    text = graph.get_graph().draw_mermaid()
    for node in ("open", "plan", "query", "observe", "review", "synthesize", "direct"):
        assert f"\t{node}({node})" in text
    assert "plan --> query;" in text and "observe --> review;" in text
    # the router after `open` and after `review` is the same one: another round, the caption, or direct mode
    for edge in ("open -.-> plan", "open -.-> synthesize", "open -.-> direct", "review -.-> plan"):
        assert edge in text
    assert "review -.-> synthesize;" in text and "query -.-> observe;" in text


class _ShotsCovering(ShotsTool):
    covers = ("shots",)
    cost = 0.02


class _OCRNeedingShots(OCRTool):
    needs = ("shots",)
    cost = 0.05


class _CostlyASR(ASRTool):
    cost = 0.08


def test_rule_planner_first_round_runs_only_what_later_tools_need(video: MediaInfo) -> None:
    """OCR names its needs (shots), so ASR, which nothing waits for, runs beside OCR in round 2, costliest first;
    the case is the same as with the whole first pass in round 1."""
    tools = [_ShotsCovering(), _OCRNeedingShots(), _CostlyASR()]
    result = run(Detective(tools=tools, planner="rule", captioner="evidence", offline=True), video)
    ran = [[q.tool for q in r.ran] for r in result.rounds]
    assert ran[0] == ["shots"]
    assert ran[1] == ["asr", "ocr"]  # by falling cost
    assert sorted(ran[2]) == ["asr", "ocr"]  # the contradiction is re-checked as before
    assert len(result.evidence.contradictions) == 1 and "John Smith" in result.caption_markdown


def test_first_pass_is_every_stage0_tool_unless_all_later_tools_name_their_needs() -> None:
    from detective.agent.rule_planner import first_pass

    shots, asr = _ShotsCovering(), _CostlyASR()
    assert first_pass([shots, _OCRNeedingShots(), asr]) == [shots]
    assert first_pass([shots, OCRTool(), asr]) == [shots, asr]  # OCR builds on the whole first pass
    assert first_pass([shots, _OCRNeedingShots(), asr, EchoTool()]) == [shots, asr]  # a question tool, too
    assert first_pass([shots, asr]) == [shots, asr]  # nothing builds on anything
    assert first_pass([asr, _OCRNeedingShots()]) == [asr]  # nothing covers the need: every stage-0 tool


def test_rule_planner_broad_passes_then_recheck_then_finish(video: MediaInfo) -> None:
    det = Detective(tools=[ShotsTool(), OCRTool(), ASRTool()], planner="rule", captioner="evidence", offline=True)
    result = run(det, video)
    ran = [sorted(q.tool for q in r.ran) for r in result.rounds]
    assert ran[0] == ["asr", "shots"]  # stage 0 first
    assert ran[1] == ["ocr"]  # stage 1 builds on it
    assert ran[2] == ["asr", "ocr"]  # the Jon Smyth / John Smith contradiction is re-checked by both tools
    assert all(q.span is not None for q in result.rounds[2].ran)
    assert result.stop_reason.startswith("planner finished")
    assert len(result.evidence.contradictions) == 1
    assert "John Smith" in result.caption_markdown
    assert result.usage.tool_calls == {"shots": 1, "asr": 2, "ocr": 2}


def test_modalities_filter_the_tool_box(audio: MediaInfo) -> None:
    det = Detective(tools=[ShotsTool(), OCRTool(), ASRTool()], planner="rule", captioner="evidence", offline=True)
    result = run(det, audio)
    assert set(result.usage.tool_calls) == {"asr"}
    assert {o.tool for o in result.evidence.observations} == {"asr"}


class Repeater(Planner):
    """Asks a new question every round, forever."""

    name = "repeater"

    async def plan(self, inp):
        return Plan(
            queries=[EchoTool().recheck_queries(inp.media, inp.evidence, TimeSpan(start=0, end=inp.round), ["x"])[0]]
        )


def run_repeater(audio: MediaInfo, tool: Tool, max_rounds: int, budget: Budget | None = None):
    """A run of the never-finishing planner asking ``tool``, bounded by ``max_rounds`` and ``budget``."""
    detective = Detective(
        tools=[tool], planner=Repeater(), captioner="evidence", max_rounds=max_rounds, budget=budget, offline=True
    )
    return run(detective, audio)


def test_stop_rule_max_rounds(audio: MediaInfo) -> None:
    result = run_repeater(audio, EchoTool(), 3)
    assert result.stop_reason == "max_rounds (3) reached"
    assert len(result.rounds) == 3


def test_stop_rule_budget_calls(audio: MediaInfo) -> None:
    result = run_repeater(audio, EchoTool(), 50, Budget(max_calls=4))
    assert result.stop_reason == "budget: 4 calls spent"
    assert result.usage.observer_calls == 4


def test_stop_rule_budget_seconds(audio: MediaInfo) -> None:
    class Slow(EchoTool):
        async def observe(self, media, query):
            await asyncio.sleep(0.05)
            return await super().observe(media, query)

    result = run_repeater(audio, Slow(), 500, Budget(max_seconds=0.3))
    assert result.stop_reason == "budget: 0.3 s spent"
    assert 2 <= len(result.rounds) <= 8


def test_stop_rule_budget_tokens(audio: MediaInfo) -> None:
    class Spender(EchoTool):
        async def observe(self, media, query):
            from detective.runtime import current_services

            current_services().usage.add_model("m", 600, 400)
            return await super().observe(media, query)

    result = run_repeater(audio, Spender(), 50, Budget(max_tokens=2500))
    assert result.stop_reason == "budget: 2500 tokens spent"
    assert result.usage.total_tokens == 3000


def test_stop_rule_no_new_queries(audio: MediaInfo) -> None:
    class Quiet(Planner):
        name = "quiet"

        async def plan(self, inp):
            return Plan(queries=EchoTool().broad_queries(inp.media, inp.evidence) if inp.round == 1 else [])

    result = run(Detective(tools=[EchoTool()], planner=Quiet(), captioner="evidence", offline=True), audio)
    assert result.stop_reason == "no new queries"


def test_a_clip_nobody_examined_is_failed_not_captioned(audio: MediaInfo) -> None:
    class Silent(Planner):
        name = "silent"

        async def plan(self, inp):
            return Plan(queries=[])

    with pytest.raises(NoEvidenceError, match=r"clip\.wav: no observer succeeded on its audio"):
        run(Detective(tools=[EchoTool()], planner=Silent(), captioner="evidence", offline=True), audio)


class Broken(Tool):
    """A video tool that always fails with ``error``."""

    name = "broken"
    description = "always fails"
    modalities = ("video",)

    def __init__(self, error: str) -> None:
        self.error = error

    def observe(self, media, query):
        raise RuntimeError(self.error)


def test_a_clip_whose_observers_all_failed_is_failed_with_their_causes(video: MediaInfo) -> None:
    with pytest.raises(NoEvidenceError, match=r"clip\.mp4: no observer succeeded on its video.*401 Unauthorized"):
        run(Detective(tools=[Broken("401 Unauthorized")], planner="rule", captioner="evidence", offline=True), video)


def test_repeated_questions_are_answered_from_the_board(audio: MediaInfo) -> None:
    class Same(Planner):
        name = "same"

        async def plan(self, inp):
            return Plan(queries=EchoTool().broad_queries(inp.media, inp.evidence))

    result = run(Detective(tools=[EchoTool()], planner=Same(), captioner="evidence", max_rounds=4, offline=True), audio)
    assert result.usage.tool_calls == {"echo": 1}
    assert result.stop_reason == "max_rounds (4) reached"


def test_observer_failure_is_recorded_not_fatal(video: MediaInfo) -> None:
    result = run(
        Detective(tools=[ShotsTool(), Broken("decoder exploded")], planner="rule", captioner="evidence", offline=True),
        video,
    )
    assert [f.tool for f in result.evidence.failures] == ["broken"]
    assert "clip.mp4" in result.evidence.failures[0].error and "decoder exploded" in result.evidence.failures[0].error
    assert any("decoder exploded" in n for n in result.notes)
    assert any(o.tool == "shots" for o in result.evidence.observations)


def test_observers_of_a_round_run_concurrently(audio: MediaInfo) -> None:
    running = {"now": 0, "peak": 0}

    class Probe(EchoTool):
        async def observe(self, media, query):
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
            await asyncio.sleep(0.05)
            running["now"] -= 1
            return [Observation(tool=self.name, kind="description", content=query.question or "")]

    class Many(Planner):
        name = "many"

        async def plan(self, inp):
            if inp.round > 1:
                return Plan(finish=True)
            return Plan(
                queries=[
                    Probe().recheck_queries(inp.media, inp.evidence, TimeSpan(start=0, end=i + 1), ["x"])[0]
                    for i in range(6)
                ]
            )

    result = run(
        Detective(tools=[Probe()], planner=Many(), captioner="evidence", max_concurrency=3, offline=True), audio
    )
    assert result.usage.tool_calls == {"echo": 6}
    assert running["peak"] == 3  # local observers share max_concurrency slots

    class Remote(Probe):
        needs_api = True  # waits on the network: every question of the round runs at once

    running["peak"] = 0
    result = run(
        Detective(tools=[Remote()], planner=Many(), captioner="evidence", max_concurrency=3, offline=True), audio
    )
    assert result.usage.tool_calls == {"echo": 6}
    assert running["peak"] == 6


def test_unknown_tool_name_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no tool named 'nope'"):
        Detective(tools=["nope"], offline=True)


class Warming(ASRTool):
    """An ASR fake whose prepare() records that it ran, and then waits (or fails) as told."""

    def __init__(self, *, fail: bool = False, hang: bool = False) -> None:
        self.fail = fail
        self.hang = hang
        self.started: list[str] = []
        self.cancelled = False

    async def prepare(self, media: MediaInfo) -> None:
        self.started.append(media.source)
        if self.fail:
            raise RuntimeError("no model file")
        if self.hang:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancelled = True
                raise


@pytest.mark.parametrize("mode", ["ok", "fail", "hang"])
def test_tools_warm_up_while_the_planner_thinks(audio: MediaInfo, mode: str) -> None:
    tool = Warming(fail=mode == "fail", hang=mode == "hang")
    shots = ShotsTool()  # needs video: it does not apply to an audio clip, so it is not warmed up
    det = Detective(tools=[tool, shots], planner="rule", captioner="evidence", offline=True)
    result = run(det, audio)
    assert tool.started == [audio.source]
    assert result.usage.tool_calls["asr"] >= 1  # a failed or unfinished warm-up never stops the run
    assert tool.cancelled == (mode == "hang")  # one still running when the run ends is cancelled


def test_every_step_of_an_async_run_runs_on_the_event_loop() -> None:
    """Nodes and routers have coroutine functions of their own: a plain sync step would run in LangGraph's thread
    pool (``run_in_executor``) on every call of an async run, a thread hop per step for every clip in flight."""
    import inspect

    from detective.agent.graph import build_graph

    g = build_graph()
    steps = {f"node {name}": spec.runnable for name, spec in g.nodes.items()}
    steps |= {f"branch {src}->{name}": spec.path for src, br in g.branches.items() for name, spec in br.items()}
    assert len(steps) == 10
    for name, step in steps.items():
        assert inspect.iscoroutinefunction(step.afunc), name
        assert not isinstance(step.afunc, functools.partial), name


async def test_each_node_step_is_one_run_for_tracers(video: MediaInfo) -> None:
    """Callbacks and tracers (``astream_events``, LangSmith) see each node step once, as for LangGraph's own
    plain-function nodes: before, every node was a second, nested run of itself (``open_clip`` inside ``open``)."""
    from detective.agent.graph import SERVICES_KEY
    from detective.runtime import RunServices

    det = Detective(tools=[ShotsTool(), OCRTool(), ASRTool()], planner="rule", captioner="evidence", offline=True)
    services = RunServices(settings=det.settings, cache=det.cache, limits=det.limits, clip="clip", toolbox=det.toolbox)
    config = det.config.run_config()
    config["configurable"] = {SERVICES_KEY: services}
    starts: dict[str, int] = {}
    async for ev in graph.astream_events({"media": video}, config, context=det.config, version="v2"):
        if ev["event"] == "on_chain_start":
            starts[ev["name"]] = starts.get(ev["name"], 0) + 1
    assert "open_clip" not in starts
    assert starts["open"] == starts["synthesize"] == 1
    assert starts["plan"] == starts["query"] == starts["review"] >= 2


def test_every_update_to_the_board_is_merged_once(video: MediaInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The board is merged once per observer answer and once per round's close (its claims' check), never again
    for a router: the loop's router reads only ``RouteInput`` (LangGraph would apply a step's pending evidence update
    to a copy of the board for a router that reads the whole state)."""
    from detective.evidence import board

    merges: list[int] = []
    real = board.merge

    def counted(evidence, update):
        merges.append(len(getattr(update, "observations", ()) or ()))
        return real(evidence, update)

    monkeypatch.setattr(board, "merge", counted)
    tools = [ShotsTool(), OCRTool(), ASRTool()]
    result = run(Detective(tools=tools, planner="rule", captioner="evidence", offline=True), video)
    answers = sum(len(r.ran) for r in result.rounds)
    assert answers >= 4 and len(result.rounds) >= 2
    assert len(merges) == answers + len(result.rounds)
