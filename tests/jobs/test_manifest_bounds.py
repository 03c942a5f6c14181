"""Hostile manifest lines (deep nesting, huge lines) are invalid lines with a number; a BOM is accepted."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

import detective.jobs.jsonl
from detective.jobs import Invalid, Item, Job, JobConfig, LocalExecutor, read_manifest
from detective.jobs.jsonl import RecordError, parse_record

DEEP = '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"


def test_deep_nesting_is_refused_by_depth() -> None:
    with pytest.raises(RecordError, match="nested deeper than 100 levels"):
        parse_record(DEEP)
    with pytest.raises(RecordError, match="nested deeper"):  # deeper than the limit, shallower than Python's stack
        parse_record('{"x": ' + "[" * 150 + "]" * 150 + "}")
    assert parse_record('{"x": ' + "[" * 90 + "]" * 90 + "}")["x"]
    assert parse_record(json.dumps({"many": [[1]] * 500})) == {"many": [[1]] * 500}  # many brackets, shallow


def test_a_bom_before_line_one_is_accepted(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b'\xef\xbb\xbf{"id": 1}\n{"id": 2}\n')
    entries = list(read_manifest(manifest))
    assert [e.record for e in entries if isinstance(e, Item)] == [{"id": 1}, {"id": 2}]
    assert entries[0].end == len(b'\xef\xbb\xbf{"id": 1}\n')  # offsets still count the BOM's bytes


def test_an_overlong_line_is_skipped_without_reading_it_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detective.jobs.jsonl, "MAX_LINE_BYTES", 1000)
    manifest = tmp_path / "m.jsonl"
    big = json.dumps({"id": 2, "pad": "y" * 5000})
    manifest.write_text(f'{{"id": 1}}\n{big}\n{{"id": 3}}\n')
    with manifest.open("rb") as fh:
        lines = list(detective.jobs.jsonl.bounded_lines(fh, 1000))
    assert [raw for raw, _ in lines][1] is None and sum(n for _, n in lines) == manifest.stat().st_size


def test_a_run_goes_on_past_a_deeply_nested_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"id": 1}\n' + DEEP + '\n{"id": 3}\n')

    def make() -> Any:
        async def work(item: Item) -> dict[str, Any]:
            return {**item.record, "done": True}

        return work

    stream = io.StringIO()
    config = JobConfig(manifest, tmp_path / "o.jsonl", workers=2, added_fields=("done",))
    summary = asyncio.run(Job(config, LocalExecutor(make, retries=0), stream).run())
    assert (summary.done, summary.invalid) == (2, 1)
    assert f"{manifest} line 2: nested deeper than 100 levels" in stream.getvalue()
    invalid = [e for e in read_manifest(manifest) if isinstance(e, Invalid)]
    assert [e.line for e in invalid] == [2]


def test_report_and_cloze_read_hostile_files_with_a_line_number(tmp_path: Path) -> None:
    from detective_cloze.predict import ClozeInputError, read_jsonl

    from detective.report.html import ReportError, load_records

    path = tmp_path / "o.jsonl"
    path.write_text('{"id": 1}\n' + DEEP + "\n")
    with pytest.raises(ReportError, match=r"o\.jsonl:2: .*nested deeper"):
        load_records(path)
    with pytest.raises(ClozeInputError, match="line 2: nested deeper"):
        list(read_jsonl(path))
    path.write_bytes(b'\xef\xbb\xbf{"id": 1}\n')
    assert load_records(path) == [{"id": 1}] and list(read_jsonl(path)) == [(1, {"id": 1})]


def test_iter_records_reads_records_and_skips_or_names_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n[1, 2]\n{"torn": \n\xff\xfe\n{"b": 2}\n')
    assert list(detective.jobs.jsonl.iter_records(path)) == [(1, {"a": 1}), (6, {"b": 2})]
    assert list(detective.jobs.jsonl.iter_records(path, limit=5)) == [(1, {"a": 1})]
    with path.open("rb") as fh:  # an open binary file reads the same
        assert [n for n, _ in detective.jobs.jsonl.iter_records(fh)] == [1, 6]
    with pytest.raises(RecordError, match="expected a JSON object") as caught:
        list(detective.jobs.jsonl.iter_records(path, strict=True))
    assert caught.value.line == 3 and caught.value.not_object
