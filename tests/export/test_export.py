"""``omni-detective export``: a real run's output to Parquet and a ``datasets`` dataset, read back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from detective.cli.app import cli
from detective.cli.run import run
from detective.jobs.record import CaptionRecord
from detective.media import wav_bytes
from detective.models import Caption

pq = pytest.importorskip("pyarrow.parquet")
datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output of an offline run over three tones, one of them an Omni-Cloze-shaped record."""
    root = tmp_path_factory.mktemp("export")
    records = []
    for i in range(3):
        t = np.arange(16000) / 16000.0
        (root / f"c{i}.wav").write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * (300 + 100 * i) * t)))
        records.append({"id": f"clip-{i}", "path": f"c{i}.wav", "split": "test", "tags": ["a", i]})
    records[2]["score"] = 0.5
    manifest = root / "in.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = root / "out.jsonl"
    result = CliRunner().invoke(
        run, ["--input", str(manifest), "--output", str(out), "--offline", "--tools", "audio_events", "--no-progress"]
    )
    assert result.exit_code == 0, result.stderr
    return out


def test_parquet_and_dataset_round_trip(output: Path, tmp_path: Path) -> None:
    parquet, folder = tmp_path / "captions.parquet", tmp_path / "ds"
    result = CliRunner().invoke(cli, ["export", "-i", str(output), "--parquet", str(parquet), "--dataset", str(folder)])
    assert result.exit_code == 0, result.output
    originals = {r["id"]: r for r in (json.loads(line) for line in output.read_text().splitlines())}
    table = pq.read_table(parquet)
    assert table.num_rows == 3
    for column in ("storyline", "transcript", "usage", "media"):
        assert str(table.schema.field(column).type).startswith(("list<", "struct<")), column
    dataset = datasets.load_from_disk(str(folder))
    assert len(dataset) == 3
    for rows in (table.to_pylist(), list(dataset)):
        for row in rows:
            original = CaptionRecord.from_json(originals[row["id"]])
            assert row["key"] == original.provenance.record_key == f'id:"{row["id"]}"'
            assert row["caption"] == original.caption and row["caption_field"] == "caption"
            struct = Caption.model_validate(
                {
                    name: row[name]
                    for name in (
                        "storyline",
                        "visible_text",
                        "speakers",
                        "transcript",
                        "sections",
                        "no_text",
                        "no_speech",
                    )
                }
            )
            assert struct == original.caption_struct
            assert row["usage"]["observer_calls"] == original.usage.observer_calls > 0
            assert row["media"]["duration"] == pytest.approx(original.media.duration)
            assert row["split"] == "test" and json.loads(row["tags"]) == originals[row["id"]]["tags"]
            assert row["score"] == originals[row["id"]].get("score")
            assert json.loads(row["provenance"])["tools"] == original.provenance.tools


def test_last_record_of_a_key_wins_and_bad_lines_are_named(output: Path, tmp_path: Path) -> None:
    lines = output.read_text().splitlines()
    twice = tmp_path / "twice.jsonl"
    changed = json.loads(lines[0])
    changed["caption"] = changed["caption"] + "\n\nredone"
    twice.write_text("\n".join([*lines, json.dumps(changed)]) + "\n")
    parquet = tmp_path / "t.parquet"
    assert CliRunner().invoke(cli, ["export", "-i", str(twice), "--parquet", str(parquet)]).exit_code == 0
    rows = {r["id"]: r for r in pq.read_table(parquet).to_pylist()}
    assert len(rows) == 3 and rows[changed["id"]]["caption"].endswith("redone")

    bad = tmp_path / "bad.jsonl"
    bad.write_text(lines[0] + "\n" + json.dumps({"id": 1, "caption": "x"}) + "\n")
    result = CliRunner().invoke(cli, ["export", "-i", str(bad), "--parquet", str(tmp_path / "b.parquet")])
    assert result.exit_code == 1 and "line 2: not a Detective run record" in result.output
    assert CliRunner().invoke(cli, ["export", "-i", str(bad)]).exit_code == 2  # nothing to write
