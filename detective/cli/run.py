"""``omni-detective run``: the batch command, upstream's command line plus limits, cache and cost reporting.

Upstream's ``--input_path IN --output_path OUT --num_workers N`` works unchanged; ``--input``, ``--output`` and
``--workers`` are aliases. The cache defaults to a file beside the output (``out.jsonl`` → ``out.cache.sqlite``),
so resuming a job reuses it and deleting the job's files deletes it; pass ``--cache-path`` to share one cache
between jobs (for instance ``~/.cache/omni-detective/cache.sqlite``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from detective.agent.batch import CLOZE_CAPTION_FIELD, BatchConfig, run_batch, sidecar_path
from detective.cli import exits
from detective.cli.options import (
    context_size_option,
    detective_config,
    download_timeout_option,
    max_tokens_option,
    observer_timeout_option,
    with_role_limits,
)
from detective.jobs import EXECUTORS, OutputLocked
from detective.jobs.jsonl import DiskFullError, iter_records
from detective.jobs.ray_executor import RayUnavailable

if TYPE_CHECKING:
    from detective.agent.detective import Detective


class DetectiveFactory:
    """Builds the run's Detectives; picklable, so Ray actors get it and build their own.

    ``kwargs`` are the Detective's keyword arguments: the run's ``config`` (a
    :class:`~detective.agent.config.DetectiveConfig`, plain values) and its ``settings``, both picklable.

    The cache and the endpoint limits are shared by every Detective of one process: opened on first use in each
    process (the SQLite cache from its path, so a Ray actor opens its own connection to a shared file).
    """

    def __init__(self, kwargs: dict[str, Any], cache_path: Path | None, limits: dict[str, Any]) -> None:
        self.kwargs = kwargs
        self.cache_path = cache_path
        self.limits = limits
        self._shared: tuple[Any, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_shared": None}

    def share(self, cache: Any) -> None:
        """Use ``cache`` (already open in this process) instead of opening one from the path."""
        from detective.llm.client import EndpointLimits

        self._shared = (cache, EndpointLimits(**self.limits))

    def __call__(self) -> Detective:
        from detective.agent.detective import Detective

        if self._shared is None:
            from detective.jobs.cache import SQLiteCache

            # integrity is checked (and a damaged file healed) by the driver before any actor starts
            self.share(SQLiteCache(self.cache_path, check=False) if self.cache_path else None)
        assert self._shared is not None
        cache, limits = self._shared
        return Detective(**self.kwargs, cache=cache, limits=limits)


def _load_prices(path: str | None) -> dict[str, dict[str, float]] | None:
    if not path:
        return None
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise click.BadParameter(f"{path}: cannot read the price table ({exc})", param_hint="--price-table") from exc
    ok = isinstance(table, dict) and all(
        isinstance(v, dict) and all(isinstance(x, int | float) for x in v.values()) for v in table.values()
    )
    if not ok:
        raise click.BadParameter(
            f'{path}: expected {{"model": {{"prompt": dollars per 1M tokens, "completion": ...}}}}',
            param_hint="--price-table",
        )
    return table


@click.command("run")
@click.option(
    "--input_path",
    "--input",
    "input_path",
    required=True,
    help="Input JSONL manifest: records with id/url, uuid/video_path or path; other fields are kept. A path or "
    "any URL fsspec reads (s3://, gs://, az://, https://; relative media paths then lead beside it).",
)
@click.option(
    "--output_path",
    "--output",
    "output_path",
    required=True,
    help="Output JSONL; appended to, and records already in it are skipped (resume). At an fsspec URL, the run "
    "works on a local copy in --work-dir and copies the output and errors file back when it ends.",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the local copies when the manifest or output is a URL (default: "
    "~/.cache/omni-detective/remote/<hash of the two locations>).",
)
@click.option(
    "--num_workers",
    "--workers",
    "workers",
    default=BatchConfig.workers,
    show_default=True,
    type=click.IntRange(1),
    help="Clips in flight at once.",
)
@click.option(
    "--open-ahead",
    type=click.IntRange(0),
    default=None,
    help="Queued clips whose media is opened (probed; downloaded when a URL and a tool needs a local copy) while "
    "earlier clips are captioned, with the local executor (default: --num_workers; 0: none).",
)
@click.option(
    "--processes",
    default=BatchConfig.processes,
    show_default=True,
    type=click.IntRange(1),
    help="Worker processes the clips are split over (one event loop and CPU core each); --num_workers and the "
    "endpoint limits stay totals.",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default=None,
    help="Where clips are captioned: local (this process, the default), processes (--processes worker "
    "processes) or ray (Ray actors; pip install 'omni-detective[ray]').",
)
@click.option(
    "--ray-address",
    default=None,
    help="Ray cluster to join (default: RAY_ADDRESS, else a Ray started on this machine, bound to 127.0.0.1).",
)
@click.option(
    "--ray-actors",
    type=click.IntRange(1),
    default=BatchConfig.ray_actors,
    show_default=True,
    help="Ray actors (each builds its Detectives once).",
)
@click.option(
    "--ray-actor-cpus",
    type=click.FloatRange(0.0),
    default=1.0,
    show_default=True,
    help="CPUs Ray reserves per actor: more for CPU-heavy offline observers, less for API-bound clips.",
)
@click.option(
    "--media-root",
    default=None,
    help="Folder (or URL folder, e.g. s3://bucket/clips) that relative media paths are under (default: the "
    "manifest's folder).",
)
@click.option(
    "--caption-field",
    default=None,
    help="Output field for the Markdown caption (default: predicted_caption for Omni-Cloze records, those "
    "carrying 'cloze', so that 'cloze predict' scores the Detective's captions; caption for any other).",
)
@click.option("--offline/--online", default=None, help="Force offline (no remote model) or online mode.")
@click.option("--max-rounds", type=click.IntRange(1), default=None, help="Rounds of plan → query → observe.")
@click.option(
    "--planner",
    default=None,
    help="Planner name (default: hybrid when online, rule offline; llm: the paper's pure LLM planner).",
)
@click.option("--captioner", default=None, help="Captioner name (default: llm when online, template offline).")
@click.option("--tools", "tools", default=None, help="Comma list of tool names (default: every applicable tool).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the cache.")
@click.option(
    "--cache-path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="SQLite cache file (default: beside the output, OUT.cache.sqlite).",
)
@click.option("--rpm", type=float, default=None, help="Requests per minute per endpoint.")
@click.option("--tpm", type=float, default=None, help="Tokens per minute per endpoint.")
@click.option(
    "--max-concurrent-requests",
    type=click.IntRange(1),
    default=None,
    help="Concurrent requests per endpoint, over all clips (default: 4 × --num_workers, so a clip's parallel "
    "observers never wait on another clip's).",
)
@click.option(
    "--price-table",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help='JSON {model: {"prompt": $/1M tokens, "completion": $/1M tokens}} for the cost estimate.',
)
@click.option("--log-json", type=click.Path(dir_okay=False), default=None, help="Append JSON log lines to FILE.")
@click.option(
    "--retries",
    type=click.IntRange(0),
    default=BatchConfig.retries,
    show_default=True,
    help="Extra attempts per clip after a retryable failure (LLM calls retry on their own as well).",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Caption at most N clips not yet done, then stop.")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Caption again the clips an earlier run failed permanently (missing or corrupt media); without it they "
    "are skipped and stay in OUT.errors.jsonl. Retryable failures are always tried again.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the planner, captioner and tool box that would run and the clips (line, id, source) it would "
    "caption, count those done, failed before and duplicate, probe each clip's media; write nothing.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on standard error: done of total, percent, ETA, clips in flight, failures, tokens "
    "(default: on a terminal).",
)
@click.option(
    "--strict-grounding", is_flag=True, help="LLM captioner: remove caption items that no observation reports."
)
@max_tokens_option
@context_size_option
@observer_timeout_option
@download_timeout_option
def run(
    input_path: str,
    output_path: str,
    work_dir: Path | None,
    workers: int,
    open_ahead: int | None,
    processes: int,
    executor: str | None,
    ray_address: str | None,
    ray_actors: int,
    ray_actor_cpus: float,
    media_root: str | None,
    caption_field: str | None,
    offline: bool | None,
    max_rounds: int | None,
    planner: str | None,
    captioner: str | None,
    tools: str | None,
    no_cache: bool,
    cache_path: Path | None,
    rpm: float | None,
    tpm: float | None,
    max_concurrent_requests: int | None,
    price_table: str | None,
    log_json: str | None,
    retries: int,
    progress: bool | None,
    strict_grounding: bool,
    limit: int | None,
    retry_failed: bool,
    dry_run: bool,
    max_tokens: dict[str, int],
    context_size: dict[str, int],
    observer_timeout: float | None,
    download_timeout: float | None,
) -> None:
    """Caption every clip of a JSONL manifest (resumable; failed clips go to OUT.errors.jsonl).

    Exits 0 when every clip is captioned, 1 when a clip failed or a line was invalid.
    """
    from detective import logs
    from detective.jobs.cache import SQLiteCache
    from detective.jobs.remote import RemoteJobFiles
    from detective.llm.settings import Settings
    from detective.media import MediaError

    try:
        files = RemoteJobFiles(input_path, output_path, work_dir)
    except MediaError as exc:
        raise click.BadParameter(str(exc)) from exc

    prices = _load_prices(price_table)
    if log_json:  # upstream's place for it; the group's `omni-detective --log-json FILE run ...` works the same
        logs.use_json_file(log_json)
    settings = with_role_limits(Settings.from_env(), max_tokens, context_size)
    for secret in settings.secrets():
        logs.add_secret(secret)
    from detective.agent.detective import Detective

    run_config = detective_config(
        tools=tools,
        planner=planner,
        captioner=captioner,
        offline=offline,
        max_rounds=max_rounds,
        strict_grounding=strict_grounding,
        observer_timeout=observer_timeout,
        download_timeout=download_timeout,
    )
    root: Path | str | None = media_root if media_root is None or "://" in media_root else Path(media_root)
    if root is None:
        root = files.media_base
    try:
        files.fetch()
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot copy the job's files from their URLs: {exc}") from exc
    input_file, output_file = files.local_input, files.local_output
    if dry_run:
        try:
            would_run = toolbox_plan(Detective(config=run_config, settings=settings))
        except (KeyError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        plan = dry_run_plan(input_file, output_file, root, caption_field, limit, retry_failed)
        click.echo(json.dumps({"would_run": would_run, **plan}, indent=2))
        sys.exit(1 if plan["invalid"] or plan["bad_media"] else 0)
    cache = None
    cache_file = None if no_cache else (cache_path or sidecar_path(output_file, ".cache.sqlite"))
    if cache_file is not None:
        cache = SQLiteCache(cache_file)  # checked here: a damaged file is moved aside and rebuilt
        if cache.moved_aside is not None:
            click.echo(
                f"warning: the cache {cache_file} was damaged; moved it to {cache.moved_aside} and started an "
                "empty one (clips already captioned are not redone)",
                err=True,
            )
    limits = {
        "max_concurrent": max_concurrent_requests or 4 * workers,
        "requests_per_minute": rpm,
        "tokens_per_minute": tpm,
    }
    factory = DetectiveFactory({"config": run_config, "settings": settings}, cache_file, limits)
    factory.share(cache)
    factory()  # fail fast on unknown tools, planners or captioners, before touching the output
    if caption_field is None and carries_cloze(input_file):
        click.echo(
            f"Omni-Cloze records (they carry 'cloze'): their captions go to '{CLOZE_CAPTION_FIELD}', the field "
            "'cloze predict' scores (other records: 'caption'; --caption-field NAME puts every caption in NAME)",
            err=True,
        )
    config = BatchConfig(
        input_path=input_file,
        output_path=output_file,
        workers=workers,
        open_ahead=open_ahead,
        processes=processes,
        executor=executor or ("processes" if processes > 1 else "local"),
        ray_address=ray_address,
        ray_actors=ray_actors,
        ray_actor_options={"num_cpus": ray_actor_cpus},
        media_root=root,
        caption_field=caption_field,
        retries=retries,
        price_table=prices,
        progress=progress,
        limit=limit,
        retry_failed=retry_failed,
    )
    try:
        summary = run_batch(config, factory)
    except (FileNotFoundError, OutputLocked, DiskFullError, RayUnavailable) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        click.echo("interrupted: finished clips are saved; run the same command again to resume", err=True)
        sys.exit(exits.exit_code())
    finally:
        if cache is not None:
            cache.close()
        if files.output_remote:
            try:
                for url in files.publish():
                    click.echo(f"copied {url}", err=True)
            except (OSError, ValueError) as exc:
                click.echo(
                    f"error: cannot copy the output back to {output_path} ({exc}); it is in {output_file}: run "
                    "the same command again to retry",
                    err=True,
                )
                sys.exit(1)
    import structlog

    structlog.get_logger("detective.agent.batch").info("batch summary", **summary.as_dict())
    sys.exit(summary.exit_code)


def carries_cloze(manifest: Path, records: int = 1000) -> bool:
    """True when one of the first ``records`` records of ``manifest`` carries ``cloze`` (an Omni-Cloze record)."""
    try:
        for _number, record in iter_records(manifest, limit=records):
            if record.get("cloze") not in (None, ""):
                return True
    except OSError:
        return False  # the run reports the unreadable manifest
    return False


def toolbox_plan(sleuth: Detective) -> dict[str, Any]:
    """What a run with this Detective would use: mode, offline or not, planner, captioner, tools (with versions),
    and the model and endpoint host of each role that calls one."""
    prov = sleuth.provenance()
    return {
        "mode": sleuth.mode,
        "offline": sleuth.settings.offline,
        "planner": prov.planner,
        "captioner": prov.captioner,
        "tools": prov.tools,
        "models": prov.models,
        "endpoints": prov.endpoints,
    }


def _check_media(source: str) -> str | None:
    """Why the clip at ``source`` cannot be captioned, or ``None``: local files are probed; fsspec URLs are
    looked up (not downloaded); http(s) URLs are not fetched by a dry run."""
    from detective.media import MediaError, is_remote, probe, scheme_of

    if not is_remote(source):
        try:
            probe(source)
        except MediaError as exc:
            return str(exc)
        return None
    if scheme_of(source) in ("http", "https"):
        return None
    try:
        import fsspec

        fs, path = fsspec.core.url_to_fs(source)
        return None if fs.exists(path) else f"{source}: not found (no such object)"
    except (ImportError, OSError, ValueError) as exc:
        return f"{source}: cannot be looked up ({type(exc).__name__}: {exc})"


def dry_run_plan(
    input_path: Path,
    output_path: Path,
    media_root: Path | str | None,
    caption_field: str | None,
    limit: int | None,
    retry_failed: bool = False,
) -> dict[str, Any]:
    """What ``run`` would do, read-only: the clips it would caption (line, id, source), those done already, those
    skipped as permanent failures of an earlier run, duplicates, invalid lines, and clips whose media does not
    probe."""
    from detective.agent.batch import output_key, read_manifest
    from detective.jobs import Invalid
    from detective.jobs.errors import load_errors

    if not input_path.is_file():
        raise click.ClickException(f"manifest {input_path} does not exist or is not a file")
    done: set[str] = set()
    if output_path.exists():
        for _number, record in iter_records(output_path):  # a torn or unreadable line is skipped: run repairs it
            try:
                done.add(output_key(record, caption_field))
            except (AttributeError, TypeError):
                continue  # a record without a usable key: its clip is redone
    errors = load_errors(sidecar_path(output_path, ".errors.jsonl"))
    permanent = set() if retry_failed else {k for k, e in errors.items() if not e.get("retryable")}
    todo: list[dict[str, Any]] = []
    invalid: list[str] = []
    bad: list[dict[str, Any]] = []
    already = duplicates = failed_before = 0
    seen: set[str] = set()
    for entry in read_manifest(input_path, media_root):
        if isinstance(entry, Invalid):
            invalid.append(f"line {entry.line}: {entry.error}")
            continue
        if entry.key in seen:
            duplicates += 1
            continue
        seen.add(entry.key)
        if entry.key in done:
            already += 1
            continue
        if entry.key in permanent:
            failed_before += 1
            continue
        if limit is not None and len(todo) >= limit:
            continue
        clip = {"line": entry.line, "id": entry.label, "source": entry.source}
        todo.append(clip)
        problem = _check_media(entry.source)
        if problem is not None:
            bad.append({**clip, "error": problem})
    return {
        "to_caption": todo,
        "already_done": already,
        "failed_before": failed_before,
        "duplicates": duplicates,
        "invalid": invalid,
        "bad_media": bad,
    }
