"""Standard tests for tools: subclass :class:`ToolTests` in your tool's test module, as LangChain's partner packages
subclass ``ChatModelUnitTests``. Every built-in observer's tests do.

::

    from detective.testing import ToolTests
    from my_tool import LoudnessTool

    class TestLoudnessTool(ToolTests):
        tool_class = LoudnessTool
        registered_name = "loudness"        # the name the plugin registers (None: not a plugin)

The base class runs each tool on a real clip (the demo clip shipped inside this package, a copy of this repository's
``examples/media/demo.mp4``, or any clip the ``clip_path`` fixture returns) and checks what every tool owes the
Detective: a name, a description, modalities and a version; a planner-facing JSON schema; broad and re-check queries
addressed to itself; well-formed observations inside the clip and a coverage record naming the tool; ``check()``; a
:class:`~detective.tools.ToolError` for a file that is not media; and, for plugins, registration under its name.
Tools that call a model override the ``run_services`` fixture to point at ``detective_testserver.ChatServer`` (the
test server, ``tests/testserver``)."""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from detective.llm.settings import Settings
from detective.media import MediaError, probe
from detective.models import Evidence, MediaInfo, Observation, ObservationKind, TimeSpan
from detective.runtime import RunServices, use_services
from detective.tools import Tool, ToolError

#: Observation kinds the core knows (see docs/plugins.md for how captioners use each).
KNOWN_KINDS = set(typing.get_args(ObservationKind))
#: The demo clip (20 s, video with speech and on-screen text), package data of ``detective.testing``.
DEMO_CLIP = Path(__file__).resolve().parent / "media" / "demo.mp4"


class ToolTests:
    """The standard tests of a tool. Set :attr:`tool_class` (or override the ``tool`` fixture)."""

    #: The Tool subclass under test, built with no arguments by the ``tool`` fixture.
    tool_class: ClassVar[type[Tool] | None] = None
    #: The name a plugin registers the tool under, checked against the plugin registry; ``None`` skips that test.
    registered_name: ClassVar[str | None] = None
    #: Seconds one observation of the clip may take in these tests.
    observe_timeout: ClassVar[float] = 300.0

    @pytest.fixture
    def tool(self) -> Tool:
        """The tool under test."""
        if self.tool_class is None:
            raise NotImplementedError("set tool_class on your ToolTests subclass, or override the tool fixture")
        return self.tool_class()

    @pytest.fixture
    def clip_path(self) -> str:
        """A clip the tool applies to. Default: the demo clip shipped with this package (20 s, video and speech)."""
        if not DEMO_CLIP.is_file():  # a broken install: failing says so, where skipping would pass the plugin's CI
            raise FileNotFoundError(f"{DEMO_CLIP} is missing from the installed omni-detective: reinstall it")
        return str(DEMO_CLIP)

    @pytest.fixture
    def media(self, clip_path: str) -> MediaInfo:
        """The probed clip."""
        return probe(clip_path)

    @pytest.fixture
    def run_services(self) -> Iterator[RunServices]:
        """The run services the tool sees while observing. Default: offline. Override for model-calling tools."""
        services = RunServices(settings=Settings(offline=True))
        with use_services(services):
            yield services

    def observe(self, tool: Tool, media: MediaInfo, query: Any) -> list[Observation]:
        """Run one query the way the graph does (``aobserve``), bounded by :attr:`observe_timeout`."""
        return asyncio.run(asyncio.wait_for(tool.aobserve(media, query), self.observe_timeout))

    # --- what every tool declares ----------------------------------------------------------------------

    def test_declares_name_description_modalities_and_version(self, tool: Tool) -> None:
        """A short lowercase name, a description for the planner, the modalities it needs, a version."""
        assert tool.name and tool.name == tool.name.strip() and " " not in tool.name
        assert len(tool.description) >= 10, "the planner chooses tools by their description"
        assert tool.modalities and set(tool.modalities) <= {"audio", "video"}
        assert tool.version and tool.version != "0", "a version keys the cache: bump it when results change"

    def test_spec_is_a_json_schema_the_planner_can_send(self, tool: Tool) -> None:
        """The planner-facing spec: an object schema with the tool's name."""
        spec = tool.spec()
        assert spec.name == tool.name and spec.description == tool.description
        assert spec.parameters.get("type") == "object"
        assert spec.model_dump_json()

    def test_is_registered_under_its_name(self, tool: Tool) -> None:
        """A plugin's tool is found by its name in the plugin registry."""
        if self.registered_name is None:
            pytest.skip("not a plugin (registered_name is None)")
        from detective.plugins import get_registry

        assert type(get_registry().tool(self.registered_name)) is type(tool)

    def test_check_says_what_is_in_place(self, tool: Tool) -> None:
        """``check()`` (what ``omni-detective doctor`` calls) returns a line of text, and observes nothing."""
        assert isinstance(tool.check(), str)

    # --- what it does on a clip ------------------------------------------------------------------------

    def test_applies_to_the_clip(self, tool: Tool, media: MediaInfo) -> None:
        """The test clip has the modalities the tool needs."""
        assert tool.applies_to(media)

    def test_queries_are_addressed_to_itself(self, tool: Tool, media: MediaInfo) -> None:
        """Broad and re-check queries name this tool; a re-check stays within the span asked about."""
        broad = tool.broad_queries(media, Evidence())
        assert broad and all(q.tool == tool.name for q in broad)
        span = TimeSpan(start=1.0, end=3.0)
        again = tool.recheck_queries(media, Evidence(), span, ["one", "other"])
        assert all(q.tool == tool.name for q in again)
        for q in again:
            asked = tool.span_of(media, q, tool.input_model.model_validate(q.arguments) if q.arguments else None)
            assert span.start - 1e-6 <= asked.start and asked.end <= span.end + 1e-6

    def test_observations_are_well_formed(self, tool: Tool, media: MediaInfo, run_services: RunServices) -> None:
        """The broad pass reports observations of known kinds, inside the clip; coverage names the tool."""
        query = tool.broad_queries(media, Evidence())[0]
        found = self.observe(tool, media, query)
        assert found, "the broad pass over the test clip found nothing: pick a clip where the tool finds something"
        for obs in found:
            assert obs.kind in KNOWN_KINDS
            assert obs.tool in ("", tool.name)
            assert obs.content.strip()
            assert obs.confidence is None or 0.0 <= obs.confidence <= 1.0
            if obs.span is not None:
                assert -1e-6 <= obs.span.start <= obs.span.end <= media.duration + 0.05
        covered = tool.coverage(media, query, found)
        assert covered.tool == tool.name and covered.ok
        assert set(covered.modalities) <= set(tool.modalities)

    def test_a_file_that_is_not_media_is_a_tool_error(
        self, tool: Tool, media: MediaInfo, tmp_path: Path, run_services: RunServices
    ) -> None:
        """Garbage in gives a :class:`ToolError` (or a ``MediaError``) naming the problem, never a crash."""
        junk = tmp_path / "junk.mp4"
        junk.write_bytes(b"this is not a media file" * 100)
        fake = media.model_copy(update={"path": str(junk), "source": str(junk), "content_hash": None})
        with pytest.raises((ToolError, MediaError)):
            self.observe(tool, fake, tool.broad_queries(fake, Evidence())[0])
