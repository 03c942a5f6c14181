"""``omni-detective run`` from Python: caption every clip of a JSONL manifest with the job engine.

The loop itself (lock, resume from the finished-keys index, torn-tail repair, streaming the manifest, bounded
work, retries, errors sidecar, summary) is :mod:`detective.jobs`; this module says what a caption job's work is
(a Detective run per clip, written as a :class:`~detective.jobs.record.CaptionRecord`) and where a clip's media is.

The resume key of a record is its ``id``, else its ``uuid``, else the sha1 of its canonical JSON
(:mod:`detective.jobs.keys`); it is also stored as ``provenance.record_key`` in each output record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from detective.agent.ahead import OpenAhead
from detective.jobs import (
    EXECUTORS,
    CaptionRecord,
    Item,
    Job,
    JobBounds,
    JobConfig,
    JobSummary,
    LocalExecutor,
    Outcome,
    OutputFile,
    OutputScan,
    Work,
    attempt,
    estimate_cost,
    is_retryable,
    record_key,
    sidecar_path,
)
from detective.jobs import output_key as _output_key
from detective.jobs import read_manifest as _read_manifest
from detective.jobs.executors import Executor
from detective.jobs.gc import job_gc as batch_gc
from detective.jobs.keys import label
from detective.jobs.record import ADDED_FIELDS
from detective.media import discard_download, is_remote
from detective.progress import job_display
from detective.runtime import report_usage

#: Fields that name a clip's media, in order of preference.
MEDIA_FIELDS = ("path", "video_path", "audio_path", "url")

#: Where ``run`` puts the caption of a record that carries ``cloze`` when no caption field is given: the field
#: Omni-Cloze's ``cloze predict`` reads, so ``run`` then ``cloze predict`` scores the Detective's own captions.
CLOZE_CAPTION_FIELD = "predicted_caption"
#: Where ``run`` puts the caption of any other record when no caption field is given.
DEFAULT_CAPTION_FIELD = "caption"

#: A clip's summary is a job's summary.
BatchSummary = JobSummary

__all__ = [
    "ADDED_FIELDS",
    "CLOZE_CAPTION_FIELD",
    "DEFAULT_CAPTION_FIELD",
    "MEDIA_FIELDS",
    "BatchConfig",
    "BatchSummary",
    "CaptionWork",
    "DetectiveLike",
    "Item",
    "Outcome",
    "arun_batch",
    "batch_gc",
    "build_record",
    "caption_field_for",
    "caption_item",
    "estimate_cost",
    "is_retryable",
    "make_executor",
    "media_source",
    "output_key",
    "read_manifest",
    "record_key",
    "repair_output",
    "run_batch",
    "sidecar_path",
]


class DetectiveLike(Protocol):
    """What the pipeline needs of a Detective: ``await arun(source, clip=label) -> RunResult``."""

    async def arun(self, source: str, *, clip: str | None = None) -> Any:
        """Caption one clip."""


@dataclass
class BatchConfig(JobBounds):
    """Everything a batch run needs besides the Detective factory: the job's files and bounds (the fields, defaults
    and checks of :class:`~detective.jobs.engine.JobBounds`: ``input_path``, ``output_path``, ``workers``,
    ``retries``, ``errors_path``, ``price_table``, ``progress``, ``progress_interval``, ``limit``,
    ``retry_failed``), then where the media is and how the clips are captioned."""

    media_root: Path | str | None = None  # a folder or a URL folder (s3://bucket/clips)
    caption_field: str | None = None  # None: predicted_caption for records carrying ``cloze``, caption otherwise
    processes: int = 1  # >1 with the default executor: clips are captioned in that many worker processes
    executor: str = "local"  # "local", "processes" (``processes`` of them) or "ray"
    ray_address: str | None = None  # a Ray cluster to join (default: RAY_ADDRESS, else a local Ray)
    ray_actors: int = 2  # Ray actors, each with its own Detectives
    ray_actor_options: dict[str, Any] | None = None  # e.g. {"num_cpus": 2} for CPU-heavy offline observers
    #: Queued clips whose media is opened (probed, downloaded) before their turn, with the ``local`` executor;
    #: None: as many as ``workers``; 0: none.
    open_ahead: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.media_root is not None and not is_remote(str(self.media_root)):
            self.media_root = Path(self.media_root)
        if self.processes < 1:
            raise ValueError(f"processes must be at least 1, got {self.processes}")
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.executor == "local" and self.processes > 1:
            self.executor = "processes"
        if self.ray_actors < 1:
            raise ValueError(f"ray_actors must be at least 1, got {self.ray_actors}")
        if self.open_ahead is not None and self.open_ahead < 0:
            raise ValueError(f"open_ahead must be at least 0, got {self.open_ahead}")


# --- keys and manifest ------------------------------------------------------------------------------------


def caption_field_for(record: dict[str, Any], caption_field: str | None = None) -> str:
    """The field a record's caption goes to: ``caption_field`` when given, else :data:`CLOZE_CAPTION_FIELD` for an
    Omni-Cloze record (one that carries ``cloze``) and :data:`DEFAULT_CAPTION_FIELD` for any other."""
    if caption_field:
        return caption_field
    return CLOZE_CAPTION_FIELD if record.get("cloze") not in (None, "") else DEFAULT_CAPTION_FIELD


def added_fields(caption_field: str | None) -> tuple[str, ...]:
    """The fields ``run`` adds to a record: the caption field(s) and :data:`ADDED_FIELDS`."""
    fields = (caption_field,) if caption_field else (DEFAULT_CAPTION_FIELD, CLOZE_CAPTION_FIELD)
    return (*fields, *ADDED_FIELDS)


def output_key(record: dict[str, Any], caption_field: str | None = None) -> str:
    """The resume key of an output record (``provenance.record_key`` when present)."""
    return _output_key(record, added_fields(caption_field))


def media_source(record: dict[str, Any], manifest_dir: Path, media_root: Path | str | None) -> str:
    """The clip's source by :func:`detective.media.resolve_source`, the rule ``caption`` follows too: a URL as is
    (http(s) or any fsspec URL), ``file://`` as its local path, a relative path under ``media_root`` or the
    manifest's folder. Raises ``ValueError`` when the record names no media or a URL of an unsupported scheme."""
    from detective.media import MediaError, resolve_source

    for name in MEDIA_FIELDS:
        value = record.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"field {name!r} must be a string, got {type(value).__name__}")
        try:
            return resolve_source(value, media_root or manifest_dir)
        except MediaError as exc:
            raise ValueError(f"{label(record, f'field {name!r}')}: {exc}") from exc
    raise ValueError(f"no media field (expected one of {', '.join(MEDIA_FIELDS)})")


def _media_check(path: Path, media_root: Path | str | None) -> Callable[[dict[str, Any]], str]:
    manifest_dir = path.resolve().parent
    return lambda record: media_source(record, manifest_dir, media_root)


def read_manifest(path: Path, media_root: Path | str | None = None) -> Any:
    """Stream the manifest: an :class:`Item` per clip, an :class:`~detective.jobs.Invalid` per bad line."""
    return _read_manifest(path, _media_check(path, media_root))


def repair_output(path: Path, caption_field: str | None = None) -> OutputScan:
    """Cut a torn last line away and collect the keys already done (through the finished-keys index)."""
    output = OutputFile(path, lambda r: output_key(r, caption_field))
    try:
        return output.open()
    finally:
        output.close()


# --- the work ---------------------------------------------------------------------------------------------


def build_record(
    item: Item, result: Any, caption_field: str | None, prices: dict[str, dict[str, float]] | None
) -> dict:
    """The output record: the input fields plus the caption (in :func:`caption_field_for`'s field) and everything
    the run produced."""
    record = CaptionRecord.from_result(item.record, item.key, result, estimate_cost(result.usage, prices))
    return record.to_json(caption_field_for(item.record, caption_field))


@dataclass
class CaptionWork:
    """The work of a caption job: builds a Detective (once per worker) and captions clips with it.

    Picklable when ``factory`` is, so it can be shipped to Ray actors, which build their Detectives there.
    """

    factory: Callable[[], DetectiveLike]
    caption_field: str | None = None
    price_table: dict[str, dict[str, float]] | None = None
    #: Clips whose media is opened before their turn (:class:`~detective.agent.ahead.OpenAhead`; 0: none). Only
    #: where the job engine hints the clips it queues (the ``local`` executor) and the Detective has ``open_media``.
    open_ahead: int = 0
    _ahead: OpenAhead | None = field(default=None, init=False, repr=False, compare=False)

    def __call__(self) -> Work:
        """A work bound to a new Detective."""
        detective = self.factory()
        ahead = self._ahead
        opener = getattr(detective, "open_media", None)
        if ahead is not None and opener is not None:
            ahead.use(opener)
        else:
            ahead = None

        async def caption(item: Item) -> dict[str, Any]:
            media = await ahead.take(item) if ahead is not None else None
            given = {"media": media} if media is not None else {}  # only a Detective with open_media is given one
            try:
                result = await detective.arun(item.source, clip=item.label, **given)
            finally:
                if media is not None:
                    discard_download(media)
            report_usage(result.usage)
            return build_record(item, result, self.caption_field, self.price_table)

        return caption

    def upcoming(self, item: Item) -> None:
        """The job engine queued ``item``: open its media ahead (with ``open_ahead`` > 0)."""
        if self.open_ahead > 0:
            if self._ahead is None:
                self._ahead = OpenAhead(self.open_ahead)
            self._ahead.upcoming(item)

    async def close(self) -> None:
        """Stop the openings ahead; downloads of clips never taken are removed."""
        if self._ahead is not None:
            await self._ahead.close()


async def caption_item(detective: DetectiveLike, item: Item, config: BatchConfig) -> Outcome:
    """Caption one clip with the retry policy; never raises for the clip."""
    work = CaptionWork(lambda: detective, config.caption_field, config.price_table)()
    return await attempt(work, item, config.retries)


def make_executor(config: BatchConfig, factory: Callable[[], DetectiveLike]) -> Executor:
    """The executor ``config.executor`` names, running :class:`CaptionWork` over ``factory``."""
    work = CaptionWork(factory, config.caption_field, config.price_table)
    if config.executor == "processes":
        from detective.jobs.processes import ProcessExecutor

        return ProcessExecutor(work, config.retries, config.processes if config.processes > 1 else os.cpu_count() or 2)
    if config.executor == "ray":
        from detective.jobs.ray_executor import RayExecutor

        return RayExecutor(
            work,
            config.retries,
            actors=config.ray_actors,
            address=config.ray_address,
            actor_options=config.ray_actor_options,
        )
    ahead = config.workers if config.open_ahead is None else config.open_ahead
    return LocalExecutor(dataclasses.replace(work, open_ahead=ahead), config.retries)


# --- the run ----------------------------------------------------------------------------------------------


def job_config(config: BatchConfig) -> JobConfig:
    """The engine's view of a batch config."""
    return JobConfig(
        **config.bounds(),
        check=_media_check(config.input_path, config.media_root),
        added_fields=added_fields(config.caption_field),
        display=job_display,
    )


async def arun_batch(
    config: BatchConfig, factory: Callable[[], DetectiveLike], stream: TextIO | None = None
) -> BatchSummary:
    """Caption every clip of ``config.input_path`` into ``config.output_path`` (see :mod:`detective.jobs.engine`).

    ``factory`` builds a Detective; it is called once per concurrent clip slot of each worker, so build shared
    things (cache, limits) outside, or open them from a path inside the factory for the Ray executor.
    """
    return await Job(job_config(config), make_executor(config, factory), stream).run()


def run_batch(config: BatchConfig, factory: Callable[[], DetectiveLike], stream: TextIO | None = None) -> BatchSummary:
    """Synchronous :func:`arun_batch`."""
    return asyncio.run(arun_batch(config, factory, stream))
