"""The typed output record, the one key rule, and totals that count the calls of failed attempts."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

from detective.agent.batch import BatchConfig, arun_batch, build_record
from detective.jobs import RECORD_VERSION, CaptionRecord, Item, record_key
from detective.llm.client import LLMError
from detective.models import Caption, Evidence, MediaInfo, Provenance, RunResult, Usage
from detective.runtime import RunServices


def _result(source: str, usage: Usage) -> RunResult:
    return RunResult(
        media=MediaInfo(source=source, duration=1.0, has_audio=True),
        caption=Caption(),
        caption_markdown="## Storyline\nx",
        evidence=Evidence(),
        stop_reason="planner finished",
        usage=usage,
        provenance=Provenance(package_version="0.1.0"),
    )


def test_record_round_trips_and_keeps_unknown_input_fields() -> None:
    usage = Usage()
    usage.add_model("m", 10, 5)
    item = Item(1, "id:1", {"id": 1, "path": "a.wav", "split": "test", "nested": {"x": [1]}}, "a.wav")
    line = build_record(item, _result("a.wav", usage), "predicted_caption", {"m": {"prompt": 1.0}})
    assert list(line)[:4] == ["id", "path", "split", "nested"]  # input fields first, as they were
    assert line["record_version"] == RECORD_VERSION and line["predicted_caption"].startswith("## Storyline")
    assert "caption" not in line and line["usage"]["cost_usd"] == 1e-05
    back = CaptionRecord.from_json(json.loads(json.dumps(line)), "predicted_caption")
    assert back.input_fields == {"id": 1, "path": "a.wav", "split": "test", "nested": {"x": [1]}}
    assert back.provenance.record_key == "id:1" and back.media.source == "a.wav" and back.usage.llm_calls == 1
    assert back.to_json("predicted_caption") == line


def test_records_written_before_the_version_field_read_as_version_0() -> None:
    usage = Usage()
    line = build_record(Item(1, "id:1", {"id": 1}, "a.wav"), _result("a.wav", usage), "caption", None)
    del line["record_version"]
    assert CaptionRecord.from_json(line).record_version == 0


def test_one_key_rule_for_run_and_cloze() -> None:
    from detective_cloze.predict import key_of

    for record in ({"id": 3, "uuid": "u"}, {"uuid": "u", "video_path": "v.mp4"}, {"video_path": "v.mp4"}):
        assert key_of({**record, "judge": {}, "predictions": {}}) == record_key(record)
    assert record_key({"id": 3, "uuid": "u"}) == "id:3"


class ChargesThenFails:
    """Spends one LLM call per attempt through a RunServices meter; the first attempt of each clip fails."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}

    async def arun(self, source: str, *, clip: str | None = None) -> Any:
        services = RunServices()
        services.usage.add_model("m", 100, 10)
        self.attempts[source] = self.attempts.get(source, 0) + 1
        await asyncio.sleep(0)
        if self.attempts[source] == 1:
            raise LLMError("captioner model m at h failed: 503", status=503, retryable=True)
        return _result(source, services.usage)


def test_totals_count_the_calls_of_retried_and_failed_attempts(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "path": f"c{i}.wav"}) + "\n" for i in range(3)))
    fake = ChargesThenFails()
    prices = {"m": {"prompt": 1.0, "completion": 1.0}}
    config = BatchConfig(manifest, tmp_path / "o.jsonl", retries=1, price_table=prices)
    summary = asyncio.run(arun_batch(config, lambda: fake, io.StringIO()))
    assert summary.done == 3
    assert summary.usage.llm_calls == 6  # 3 failed attempts + 3 that succeeded
    assert summary.cost_usd == 6 * 110 / 1e6
    records = [json.loads(x) for x in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert all(r["usage"]["llm_calls"] == 1 for r in records)  # a record holds its own run's spend

    fake = ChargesThenFails()
    config = BatchConfig(manifest, tmp_path / "p.jsonl", retries=0)
    summary = asyncio.run(arun_batch(config, lambda: fake, io.StringIO()))
    assert summary.failed == 3 and summary.usage.llm_calls == 3  # failed clips' calls counted too
