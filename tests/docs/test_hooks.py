"""Every hook in detective/hookspecs.py is documented with its exact signature and exercised by a test_hook_* test.

The ``test_hook_<name>`` tests register a real plugin object with the plugin manager and go through the public
paths (registry, Detective, CLI group) exactly as an installed plugin would.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pluggy
import pytest
from click.testing import CliRunner

from detective import hookspecs
from detective.agent.detective import Detective
from detective.captioning import Captioner, CaptionJob, CaptionOutput
from detective.hookspecs import hookimpl
from detective.models import Caption, MediaInfo, Observation, Query, StorylineSegment, TimeSpan
from detective.planning import Plan, PlanInput, Planner
from detective.plugins import call_each, get_plugin_manager, get_registry, reset
from detective.tools import SpanInput, Tool

REPO = Path(__file__).resolve().parents[2]
HOOKS_DOC = REPO / "docs" / "hooks.md"


def hook_specs() -> dict[str, inspect.Signature]:
    """Every hook specification: name to its signature (annotations evaluated)."""
    return {
        name: inspect.signature(fn, eval_str=True)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "omni_detective_spec")
    }


def test_there_are_hooks() -> None:
    assert {"register_tools", "register_commands"} <= set(hook_specs())


def test_every_hook_is_documented_with_its_signature() -> None:
    doc = HOOKS_DOC.read_text(encoding="utf-8")
    for name, signature in hook_specs().items():
        assert f"\n## {name}\n" in doc, f"docs/hooks.md has no '## {name}' section"
        assert f"{name}{signature}" in doc, f"docs/hooks.md does not show the signature {name}{signature}"


def test_every_hook_has_a_test() -> None:
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").rglob("test_*.py"))
    found = set(re.findall(r"^\s*(?:async\s+)?def test_hook_(\w+)\(", tests, re.M))
    missing = sorted(set(hook_specs()) - found)
    assert not missing, f"hooks without a test_hook_<name> test under tests/: {missing}"


# --- the hooks, exercised ------------------------------------------------------------------------------------


@pytest.fixture
def pm(monkeypatch: pytest.MonkeyPatch) -> Iterator[pluggy.PluginManager]:
    """A freshly loaded plugin manager; plugins registered on it are forgotten afterwards."""
    monkeypatch.delenv("OMNI_DETECTIVE_TRACE_PLUGINS", raising=False)
    reset()
    yield get_plugin_manager()
    reset()


AUDIO = MediaInfo(source="clip.wav", duration=4.0, has_audio=True, audio_sample_rate=16000)


class HalfTool(Tool):
    """Reports the clip's two halves (no decoding needed)."""

    name = "halves"
    description = "The two halves of the clip."
    input_model = SpanInput
    modalities = ("audio",)
    version = "9.9"

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        mid = media.duration / 2
        return [
            Observation(tool=self.name, kind="metadata", content=f"half {i + 1}", span=TimeSpan(start=s, end=e))
            for i, (s, e) in enumerate([(0.0, mid), (mid, media.duration)])
        ]


class ToolPlugin:
    @hookimpl
    def register_tools(self, register: Any) -> None:
        register(HalfTool(), aliases=["two-halves"])


def test_hook_register_tools(pm: pluggy.PluginManager) -> None:
    pm.register(ToolPlugin(), name="test-halves")
    registry = get_registry()
    assert registry.tools["halves"].plugin == "test-halves"
    assert registry.tool("two-halves").name == "halves"
    result = Detective(tools=["two-halves"], captioner="evidence", offline=True).run("clip.wav", media=AUDIO)
    assert [o.content for o in result.evidence.observations] == ["half 1", "half 2"]
    assert result.provenance.tools == {"halves": "9.9"}


class OncePlanner(Planner):
    """One broad pass over every tool, then finish."""

    name = "once"

    async def plan(self, inp: PlanInput) -> Plan:
        if inp.round > 1:
            return Plan(finish=True, rationale="one broad pass is enough")
        return Plan(queries=[q for t in inp.tools for q in t.broad_queries(inp.media, inp.evidence)])


class PlannerPlugin:
    @hookimpl
    def register_planners(self, register: Any) -> None:
        register("once", OncePlanner)


def test_hook_register_planners(pm: pluggy.PluginManager) -> None:
    pm.register(PlannerPlugin(), name="test-once")
    pm.register(ToolPlugin(), name="test-halves")
    assert get_registry().planners["once"].plugin == "test-once"
    result = Detective(tools=["halves"], planner="once", captioner="evidence", offline=True).run(
        "clip.wav", media=AUDIO
    )
    assert result.provenance.planner == "once"
    assert len(result.rounds) == 1 and "one broad pass" in result.stop_reason


class CountingCaptioner(Captioner):
    """A caption with one storyline segment per observation."""

    name = "counting"

    async def caption(self, job: CaptionJob) -> CaptionOutput:
        segments = [StorylineSegment(span=o.span, text=o.content) for o in job.evidence.observations if o.span]
        markdown = f"## Storyline\n{len(segments)} segments from {len(job.evidence.observations)} observations"
        return CaptionOutput(caption=Caption(storyline=segments), markdown=markdown)


class CaptionerPlugin:
    @hookimpl
    def register_captioners(self, register: Any) -> None:
        register("counting", CountingCaptioner)


def test_hook_register_captioners(pm: pluggy.PluginManager) -> None:
    pm.register(CaptionerPlugin(), name="test-counting")
    pm.register(ToolPlugin(), name="test-halves")
    assert get_registry().captioners["counting"].plugin == "test-counting"
    result = Detective(tools=["halves"], captioner="counting", offline=True).run("clip.wav", media=AUDIO)
    assert result.caption_markdown == "## Storyline\n2 segments from 2 observations"
    assert [s.text for s in result.caption.storyline] == ["half 1", "half 2"]


class WordCount:
    """An evaluator: words per second of caption."""

    def score(self, caption: str, duration: float) -> float:
        return len(caption.split()) / duration


class EvaluatorPlugin:
    @hookimpl
    def register_evaluators(self, register: Any) -> None:
        register("words-per-second", WordCount)


class DuplicateEvaluatorPlugin:
    @hookimpl
    def register_evaluators(self, register: Any) -> None:
        register("words-per-second", WordCount)


def test_hook_register_evaluators(pm: pluggy.PluginManager) -> None:
    pm.register(EvaluatorPlugin(), name="test-wps")
    pm.register(DuplicateEvaluatorPlugin(), name="test-wps-again")
    registry = get_registry()
    owner = registry.evaluators["words-per-second"].plugin
    other = ({"test-wps", "test-wps-again"} - {owner}).pop()
    assert registry.failures[other] == f"evaluator 'words-per-second' already registered by {owner}"
    assert registry.make("evaluators", "words-per-second").score("one two three four", 2.0) == 2.0


class CommandPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        @click.argument("name")
        def hello(name: str) -> None:
            """Say hello."""
            click.echo(f"hello {name}")


class BrokenCommandPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        raise RuntimeError("cannot add my command")


def test_hook_register_commands(pm: pluggy.PluginManager) -> None:
    pm.register(CommandPlugin(), name="test-hello")
    pm.register(BrokenCommandPlugin(), name="test-broken")

    @click.group()
    def root() -> None:
        """A root group like omni-detective's."""

    failures = call_each("register_commands", cli=root)
    assert failures == {"test-broken": "register_commands: RuntimeError: cannot add my command"}
    result = CliRunner().invoke(root, ["hello", "Ada"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello Ada\n"
