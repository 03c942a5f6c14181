"""What the job engine needs of a live display (a progress bar), so the engine itself knows no terminal UI.

The front that starts a job (the ``run`` command, :func:`detective.agent.batch.run_batch`, ``cloze predict``)
passes a :data:`DisplayFactory`; :func:`detective.progress.job_display` is the rich bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from detective.jobs.summary import JobSummary


class JobDisplay(Protocol):
    """A live view of a job's counts, drawn on the job's stream."""

    @property
    def live(self) -> bool:
        """Whether it is drawn now (report lines then print above it)."""

    def start(self) -> None:
        """Start drawing."""

    def update(self, total: int | None, in_flight: int) -> None:
        """Show the summary's counts: ``total`` items to do (None: not yet counted), ``in_flight`` running."""

    def print(self, message: str) -> None:
        """Print a report line above the display."""

    def stop(self) -> None:
        """Stop drawing and leave the stream as it was."""


#: ``factory(summary, stream, setting)``: the display for a job, or None for none. ``setting`` is the job's
#: ``progress`` (True: always, False: never, None: when the stream is a terminal).
DisplayFactory = Callable[["JobSummary", TextIO, "bool | None"], "JobDisplay | None"]
