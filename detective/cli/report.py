"""``omni-detective report``: a self-contained HTML page per clip from a run's output."""

from __future__ import annotations

from pathlib import Path

import click

from detective.report.html import ReportError, write_reports


@click.command("report")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "clip_id", default=None, help="Report only this record (its id, uuid, path or file name).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write. With several records it becomes an index and each clip gets OUT-<id>-<hash>.html.",
)
def report(source: Path, clip_id: str | None, out: Path) -> None:
    """Write an HTML run report (timeline, rounds, caption, usage, provenance) for SOURCE.

    SOURCE is the output JSONL of `omni-detective run`, or the JSON printed by `omni-detective caption --json`.
    The page is self-contained: inline CSS and SVG, nothing is fetched when it is opened.
    """
    try:
        written = write_reports(source, out, clip_id)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in written:
        click.echo(str(path))
