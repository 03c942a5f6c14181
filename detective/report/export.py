"""``omni-detective export``: a run's output JSONL as Parquet and as a Hugging Face ``datasets`` dataset on disk.

One row per clip (the last record of a key wins, as resume and report read it): the resume ``key``, the input
record's own fields as columns (scalars as they are; a field holding lists, objects or mixed types as JSON text),
the Markdown ``caption`` and the name of the ``caption_field`` it came from, the caption's structure as struct
columns (``storyline``, ``visible_text``, ``speakers``, ``transcript``, ``sections``, ``no_text``,
``no_speech``), the clip's ``media`` facts, ``usage`` (calls, tokens, seconds, cost; ``usage_per_model`` a list
of one struct per model), ``provenance``, ``stop_reason``, and with ``with_evidence`` the evidence and the
trajectory as JSON text. Needs the ``export`` extra (``pip install 'omni-detective[export]'``: pyarrow,
datasets). Inputs and outputs may be fsspec URLs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import click

from detective.jobs.record import CaptionRecord

#: The caption's structure, one column each.
CAPTION_COLUMNS = ("storyline", "visible_text", "speakers", "transcript", "sections", "no_text", "no_speech")
#: Numeric usage fields, one struct column.
USAGE_FIELDS = ("llm_calls", "total_tokens", "observer_calls", "seconds", "cost_usd")
_CAPTION_FIELDS = ("caption", "predicted_caption")


class ExportError(ValueError):
    """An output line that is not a Detective run record, or a missing extra; the message says which."""


def _need_extra() -> Any:
    try:
        import pyarrow
    except ImportError as exc:
        raise ExportError("export needs pyarrow: pip install 'omni-detective[export]'") from exc
    return pyarrow


def caption_field_of(record: dict[str, Any]) -> str:
    """The field of a run record holding its Markdown caption (``caption``, ``predicted_caption`` or another
    ``--caption-field`` name: the one string field beside ``caption_struct`` that ends in ``caption``)."""
    for name in _CAPTION_FIELDS:
        if isinstance(record.get(name), str):
            return name
    for name, value in record.items():
        if name.endswith("caption") and isinstance(value, str):
            return name
    raise ExportError("no caption field (caption, predicted_caption or another *caption string)")


def read_records(location: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` of a run's output at a path or fsspec URL; raises :class:`ExportError` on a
    line that is not JSON (a torn last line is one: ``run`` repairs it)."""
    import fsspec

    from detective.jobs.jsonl import RecordError, iter_records

    with fsspec.open(location, "rb") as fh:
        try:
            yield from iter_records(fh, strict=True)
        except RecordError as exc:
            what = "expected a JSON object" if exc.not_object else f"not a JSON record ({exc})"
            raise ExportError(f"{location} line {exc.line}: {what}") from exc


def row_of(record: dict[str, Any], *, with_evidence: bool = False) -> dict[str, Any]:
    """The export row of one run record (read through :class:`CaptionRecord`, so a malformed one is refused)."""
    field = caption_field_of(record)
    typed = CaptionRecord.from_json(record, field)
    caption = typed.caption_struct.model_dump(mode="json")
    usage = typed.usage
    row: dict[str, Any] = {
        "key": typed.provenance.record_key,
        "caption": typed.caption,
        "caption_field": field,
        **{name: caption[name] for name in CAPTION_COLUMNS},
        "media": typed.media.model_dump(mode="json"),
        "usage": {name: getattr(usage, name) for name in USAGE_FIELDS},
        "usage_per_model": [{"model": name, **counts} for name, counts in sorted(usage.models.items())],
        "provenance": json.dumps(typed.provenance.model_dump(mode="json"), sort_keys=True),
        "stop_reason": typed.stop_reason,
        "record_version": typed.record_version,
    }
    if with_evidence:
        row["evidence"] = typed.evidence.model_dump_json()
        row["trajectory"] = json.dumps(typed.omni_detective_trajectory, ensure_ascii=False)
    row["input"] = dict(typed.input_fields)
    return row


def _input_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spread each row's ``input`` into columns: scalars kept when a column holds one scalar type, else JSON."""
    names: dict[str, set[type]] = {}
    for row in rows:
        for name, value in row["input"].items():
            names.setdefault(name, set()).add(type(value))
    taken = set(rows[0]) if rows else set()
    scalar = (str, int, float, bool)
    out = []
    for row in rows:
        fields = row.pop("input")
        for name, kinds in names.items():
            column = name if name not in taken else f"input_{name}"
            value = fields.get(name)
            concrete = kinds - {type(None)}
            keep = len(concrete) <= 1 and all(k in scalar for k in concrete)
            row[column] = value if keep or value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)
        out.append(row)
    return out


def build_table(location: str, *, with_evidence: bool = False) -> Any:
    """The pyarrow Table of a run's output: one row per key, the last record of a key winning."""
    pa = _need_extra()
    latest: dict[str, dict[str, Any]] = {}
    for number, record in read_records(location):
        try:
            row = row_of(record, with_evidence=with_evidence)
        except (ExportError, ValueError) as exc:
            raise ExportError(f"{location} line {number}: not a Detective run record ({exc})") from exc
        latest.pop(row["key"], None)
        latest[row["key"]] = row
    rows = _input_columns(list(latest.values()))
    if not rows:
        raise ExportError(f"{location}: no records to export")
    return pa.Table.from_pylist(rows)


def write_parquet(table: Any, location: str) -> None:
    """Write ``table`` as one Parquet file at a path or fsspec URL."""
    import fsspec
    import pyarrow.parquet as pq

    with fsspec.open(location, "wb") as fh:
        pq.write_table(table, fh)


def write_dataset(table: Any, location: str) -> None:
    """Save ``table`` as a Hugging Face ``datasets`` dataset (``datasets.load_from_disk`` reads it back)."""
    try:
        import datasets
    except ImportError as exc:
        raise ExportError(
            "a datasets dataset needs the datasets package: pip install 'omni-detective[export]'"
        ) from exc
    datasets.Dataset(table).save_to_disk(location)


@click.command("export")
@click.option("--input", "-i", "input_path", required=True, help="A run's output JSONL (path or fsspec URL).")
@click.option("--parquet", "parquet_path", default=None, help="Write one Parquet file here (path or fsspec URL).")
@click.option(
    "--dataset",
    "dataset_path",
    default=None,
    help="Save a Hugging Face datasets dataset in this folder (datasets.load_from_disk reads it).",
)
@click.option("--with-evidence", is_flag=True, help="Add the evidence board and the trajectory as JSON columns.")
def export(input_path: str, parquet_path: str | None, dataset_path: str | None, with_evidence: bool) -> None:
    """Export a run's output as Parquet and/or a datasets dataset: one row per clip, the caption's structure as
    struct columns, usage and provenance (pip install 'omni-detective[export]')."""
    if not parquet_path and not dataset_path:
        raise click.UsageError("give --parquet FILE, --dataset FOLDER or both")
    try:
        table = build_table(input_path, with_evidence=with_evidence)
        if parquet_path:
            write_parquet(table, parquet_path)
            click.echo(f"wrote {parquet_path}: {table.num_rows} rows, {table.num_columns} columns", err=True)
        if dataset_path:
            write_dataset(table, dataset_path)
            click.echo(f"saved the dataset {dataset_path}: {table.num_rows} rows", err=True)
    except FileNotFoundError as exc:
        raise click.ClickException(f"{input_path}: no such file ({exc})") from exc
    except ExportError as exc:
        raise click.ClickException(str(exc)) from exc
