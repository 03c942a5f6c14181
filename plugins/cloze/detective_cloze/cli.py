"""The ``omni-detective cloze`` commands: ``predict`` (judge captions), ``score`` (metrics), ``make-demo``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from detective.jobs import OutputLocked, sidecar_path
from detective.jobs.jsonl import DiskFullError
from detective.llm.capabilities import MAX_REPAIRS
from detective.llm.settings import Settings
from detective.logs import add_secret
from detective.runtime import RunServices
from detective_cloze.predict import (
    CaptionFieldError,
    ClozeInputError,
    failures_of,
    read_jsonl,
    resolve_caption_field,
    run_predict,
)
from detective_cloze.scoring import format_table, score_records


class UsageProblem(click.ClickException):
    """A command line that cannot do what it is asked: exit 2, like click's own usage errors."""

    exit_code = 2


_ALLOW_FAILURES = click.option(
    "--allow-failures",
    is_flag=True,
    help="Exit 0 even when judge replies failed or captions were missing (they count as not given).",
)


@click.group("cloze")
def cloze() -> None:
    """Omni-Cloze: judge detailed captions against cloze blanks, then score them.

    \b
    1. omni-detective run --input cloze.jsonl --output captions.jsonl
       (records carrying 'cloze' get the caption in predicted_caption)
    2. omni-detective cloze predict --input captions.jsonl --output judged.jsonl
    3. omni-detective cloze score --input judged.jsonl --show-subcategory
    """


@cloze.command("predict")
@click.option(
    "--input",
    "-i",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Omni-Cloze JSONL with a caption in each record.",
)
@click.option(
    "--output",
    "-o",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output JSONL (input plus 'judge' and 'predictions'); an existing file is resumed.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=100, show_default=True, help="Records judged concurrently."
)
@click.option(
    "--model", default=None, help="Judge model (default: OMNI_DETECTIVE_JUDGE_MODEL, else the built-in judge default)."
)
@click.option(
    "--caption-field",
    default=None,
    help="Record field holding the caption to judge (default: predicted_caption, or the Detective's caption of "
    "a run's output; refused when records hold both and this is not given).",
)
@click.option(
    "--judge",
    "judge_kind",
    type=click.Choice(["llm", "lexical"]),
    default="llm",
    show_default=True,
    help="llm: the Omni-Cloze protocol (one chat call per record, OPENAI_API_KEY / OPENAI_BASE_URL). "
    "lexical: an OFFLINE PROXY that matches option words in the caption; its scores are not "
    "comparable to published Omni-Cloze numbers.",
)
@click.option(
    "--repair-attempts",
    type=click.IntRange(0, 5),
    default=MAX_REPAIRS,
    show_default=True,
    help="Re-asks after an unreadable judge reply before counting the record as all E.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Judge again records the output holds as failed (unreadable replies, bad records).",
)
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Judge cache file (default: OUTPUT.judge-cache.sqlite).",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the judge cache.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Reply limit of the judge (default: OMNI_DETECTIVE_JUDGE_MAX_TOKENS, else 1024).",
)
@click.option(
    "--context-size",
    type=click.IntRange(min=1),
    default=None,
    help="The judge model's context in tokens (default: OMNI_DETECTIVE_JUDGE_CONTEXT_SIZE, else learnt from its "
    "first overflow); a prompt that cannot fit fails its record with that reason.",
)
@_ALLOW_FAILURES
def predict(
    input_path: str,
    output_path: str,
    workers: int,
    model: str | None,
    caption_field: str,
    judge_kind: str,
    repair_attempts: int,
    retry_failed: bool,
    cache_path: str | None,
    no_cache: bool,
    max_tokens: int | None,
    context_size: int | None,
    allow_failures: bool,
) -> None:
    """Map each record's caption onto its cloze blanks with a judge (upstream's generate_prediction.py).

    The judge sees the passage with its options and the caption, never the gold fields. It picks A-D only when
    the caption states the detail, E ("not given") otherwise.
    """
    from detective_cloze.judges import LEXICAL_LABEL, LexicalJudge, LLMJudge  # the LLM client: only when run

    try:
        caption_field, with_caption, records = resolve_caption_field(input_path, caption_field)
    except CaptionFieldError as exc:
        raise UsageProblem(str(exc)) from exc
    except ClozeInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"scoring the captions in '{caption_field}' ({with_caption} of {records} records hold one)", err=True)
    cache = None
    if judge_kind == "lexical":
        judge: LLMJudge | LexicalJudge = LexicalJudge(caption_field=caption_field)
        click.echo(f"judge: {LEXICAL_LABEL}", err=True)
    else:
        settings = Settings.from_env().with_role("judge", model=model, max_tokens=max_tokens, context_size=context_size)
        for secret in settings.secrets():
            add_secret(secret)
        endpoint = settings.endpoint("judge")
        if not endpoint.available:
            raise click.ClickException(
                f"the judge ({endpoint.model} at {endpoint.host}) has no API key: set OPENAI_API_KEY "
                "(and OPENAI_BASE_URL) or OMNI_DETECTIVE_JUDGE_API_KEY, or use --judge lexical for the "
                "offline proxy"
            )
        if not no_cache:
            from detective.jobs.cache import SQLiteCache

            cache = SQLiteCache(cache_path or f"{output_path}.judge-cache.sqlite")
        judge = LLMJudge(
            RunServices(settings=settings),
            caption_field=caption_field,
            cache=cache,
            repair_attempts=repair_attempts,
        )
        click.echo(f"judge: {endpoint.model} at {endpoint.host}", err=True)

    try:
        summary = asyncio.run(run_predict(input_path, output_path, judge, workers=workers, retry_failed=retry_failed))
    except (OutputLocked, DiskFullError) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if cache is not None:
            cache.close()
    click.echo(json.dumps(summary.as_dict()), err=True)
    errors = sidecar_path(output_path, ".errors.jsonl")
    if summary.judge_failures:
        click.echo(
            f"warning: {summary.judge_failures} record(s) got no readable judge reply and count as "
            "not given (upstream's rule); --retry-failed judges them again",
            err=True,
        )
    if summary.context_failures:
        click.echo(
            f"warning: {summary.context_failures} record(s) do not fit the judge model's context and count as not "
            f"given (see 'judge.error' in {output_path}); running again will not change that: use a judge model "
            "with a larger context",
            err=True,
        )
    if summary.record_errors or summary.call_failures or summary.invalid_lines:
        raise click.ClickException(
            f"{summary.call_failures} record(s) could not reach the judge, {summary.record_errors} could not be "
            f"judged and {summary.invalid_lines} input line(s) are not records (see {errors}); "
            "run the same command again to retry only them"
        )
    problem = failures_of(summary)
    if problem and not allow_failures:
        raise click.ClickException(
            f"{problem}: those records count as not given, so the score understates the captions; "
            "--retry-failed judges failed replies again, --allow-failures accepts the score as it is"
        )


@cloze.command("score")
@click.option(
    "--input",
    "-i",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The output of 'cloze predict'.",
)
@click.option("--show-subcategory", is_flag=True, help="Add one row per subcategory to the table.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON instead of a table.")
@click.option(
    "--output",
    "-o",
    "json_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the JSON result to this file.",
)
@_ALLOW_FAILURES
def score(input_path: str, show_subcategory: bool, as_json: bool, json_path: str | None, allow_failures: bool) -> None:
    """Score judged records: accuracy, not-given and hallucination rates, net; overall and per group.

    Exits 1 when a judge reply or call failed or a caption was missing (after printing the result), unless
    --allow-failures.
    """
    try:
        result = score_records(record for _, record in read_jsonl(input_path))
    except ClozeInputError as exc:
        raise click.ClickException(str(exc)) from exc
    if not result["overall"]["total"]:
        raise click.ClickException(f"{input_path}: no graded blanks (is it the output of 'cloze predict'?)")
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(format_table(result, show_subcategory=show_subcategory))
    counts = result["counts"]
    failed = {
        name: counts[name]
        for name in ("judge_failures", "call_failures", "unreadable_records", "caption_missing")
        if counts[name]
    }
    if failed and not allow_failures:
        listed = ", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in failed.items())
        raise click.ClickException(
            f"{input_path}: {listed} of {counts['records']} records; they count as not given, so the score "
            "understates the captions (--allow-failures accepts it)"
        )


@cloze.command("make-demo")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write demo_cloze.jsonl into.",
)
def make_demo(out_dir: str) -> None:
    """Write a small cloze set over examples/media/demo.mp4 with a hand-written caption, for an offline try
    (video_path relative to --out; outside the checkout the clip is copied there)."""
    from detective_cloze.demo import write_demo

    path = write_demo(out_dir)
    click.echo(str(path))
    captions = path.with_name("captions.jsonl")
    judged = path.with_name("judged.jsonl")
    click.echo(f"next: omni-detective run --input {path} --output {captions} --offline", err=True)
    click.echo(f"      omni-detective cloze predict --judge lexical --input {captions} --output {judged}", err=True)
    click.echo(f"      omni-detective cloze score --input {judged} --show-subcategory", err=True)
    click.echo(
        f"      (the records' own predicted_caption is hand-written: cloze predict --input {path} scores that one)",
        err=True,
    )
