"""The job engine shared by ``omni-detective run`` and ``cloze predict``.

- :mod:`.engine`: :class:`Job` / :func:`run_job`, the loop (lock, resume, stream, work, write, errors, summary);
- :mod:`.keys`: the one resume key rule; :mod:`.manifest`: streaming the input;
- :mod:`.output`: torn-tail repair and the finished-keys index; :mod:`.errors`: the errors sidecar;
- :mod:`.lock`: one writer per output; :mod:`.attempt`: the retry policy and :class:`Outcome`;
- :mod:`.executors` (local), :mod:`.processes`, :mod:`.ray_executor`: where the work runs; :mod:`.pool`: the
  reused works each of their workers holds;
- :mod:`.record`: the typed output record of a caption run.
"""

from detective.jobs.attempt import Outcome, Work, WorkFactory, attempt, is_retryable
from detective.jobs.engine import Job, JobBounds, JobConfig, run_job
from detective.jobs.executors import EXECUTORS, Executor, LocalExecutor
from detective.jobs.keys import output_key, record_key
from detective.jobs.lock import OutputLock, OutputLocked
from detective.jobs.manifest import Invalid, Item, read_manifest
from detective.jobs.output import OutputFile, OutputScan, sidecar_path
from detective.jobs.record import RECORD_VERSION, CaptionRecord
from detective.jobs.summary import JobSummary, estimate_cost

__all__ = [
    "EXECUTORS",
    "RECORD_VERSION",
    "CaptionRecord",
    "Executor",
    "Invalid",
    "Item",
    "Job",
    "JobBounds",
    "JobConfig",
    "JobSummary",
    "LocalExecutor",
    "Outcome",
    "OutputFile",
    "OutputLock",
    "OutputLocked",
    "OutputScan",
    "Work",
    "WorkFactory",
    "attempt",
    "estimate_cost",
    "is_retryable",
    "output_key",
    "read_manifest",
    "record_key",
    "run_job",
    "sidecar_path",
]
