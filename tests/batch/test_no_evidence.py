"""No evidence, no caption: a clip whose every observer failed is a failed clip, retried by the next run."""

from __future__ import annotations

import io
from pathlib import Path

from detective.agent.batch import BatchConfig, run_batch
from detective.agent.detective import Detective
from detective.models import MediaInfo, Observation, Query
from detective.tools import Tool, ToolError


class Unauthorized(Tool):
    """An audio observer whose endpoint refuses every call."""

    name = "listen"
    description = "asks an audio model"
    modalities = ("audio",)

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        raise ToolError("listen: the audio model's endpoint answered 401 Unauthorized (check the API key)")


class Listens(Unauthorized):
    """The same observer once the key is fixed."""

    covers = ("sound",)

    def observe(self, media: MediaInfo, query: Query) -> list[Observation]:
        return [Observation(tool=self.name, kind="description", content="A steady tone.", span=query.span)]


def test_all_observers_failed_is_a_failed_clip_then_retried(
    tmp_path: Path, manifest: Path, helpers, executor: dict
) -> None:
    out = tmp_path / "out.jsonl"
    broken = lambda: Detective(tools=[Unauthorized()], planner="rule", captioner="template", offline=True)  # noqa: E731
    summary = run_batch(BatchConfig(manifest, out, workers=8, **executor), broken, io.StringIO())
    assert summary.done == 0 and summary.failed == 40 and summary.exit_code == 1
    assert helpers.read(out) == []
    errors = helpers.read(tmp_path / "out.errors.jsonl")
    assert len(errors) == 40
    for entry in errors:
        assert f"clip{entry['id']:02d}.wav" in entry["error"] and "401 Unauthorized" in entry["error"]
        assert entry["error_type"] == "NoEvidenceError" and entry["attempts"] == 1

    fixed = lambda: Detective(tools=[Listens()], planner="rule", captioner="template", offline=True)  # noqa: E731
    stream = io.StringIO()
    summary = run_batch(BatchConfig(manifest, out, workers=8, **executor), fixed, stream)
    assert summary.previously_failed == 40 and summary.done == 40 and summary.exit_code == 0
    records = helpers.read(out)
    assert sorted(r["id"] for r in records) == list(range(40))
    for record in records:
        assert "401" not in record["caption"] and "failed" not in record["caption"]
    assert not (tmp_path / "out.errors.jsonl").exists()
