"""Progress bars on standard error with rich: the job engine's (``run``, ``cloze predict``) and ``caption``'s.

A bar shows only when standard error is a terminal (or when asked for), and while it shows, nothing writes
through it:

- the engine's report lines go through :meth:`LiveProgress.print`, above the bar;
- Python-level writes to ``sys.stderr`` (structlog lines, stdlib ``logging``, warnings) go through rich's
  ``redirect_stderr`` proxy, above the bar;
- FFmpeg's own messages are silenced below errors (``av.logging.set_libav_level``: the shot detector's
  scenedetect restores FFmpeg's printing callback), and whatever C libraries or forked workers still write to file
  descriptor 2 is read from a pipe by a thread and printed above the bar, line by line.

Without a terminal nothing changes: no bar, report lines written to the stream as they come.
"""

from __future__ import annotations

import abc
import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from detective.jobs.summary import JobSummary

#: True while a bar owns standard error; a forked child then writes to its file descriptor 2 (the relay's pipe).
_active = False


def _after_fork_in_child() -> None:
    global _active
    if _active:  # the parent's proxy would redraw the parent's bar from the child
        sys.stderr = sys.__stderr__
        _active = False


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _set_active(value: bool) -> None:
    global _active
    _active = value


def wanted(stream: TextIO, setting: bool | None) -> bool:
    """Whether to show a bar on ``stream``: ``setting`` when given, else only when ``stream`` is a terminal."""
    if setting is not None:
        return setting
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class _Fd2Relay:
    """File descriptor 2 swapped for a pipe whose lines a thread prints with ``say`` (above the bar)."""

    IDLE = 0.25  # seconds after which a line without its newline is printed as it is

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.saved = -1
        self.reader = -1
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Swap file descriptor 2 for the pipe and start reading it."""
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.__stderr__.flush()  # type: ignore[union-attr]
        self.saved = os.dup(2)
        self.reader, writer = os.pipe()
        os.dup2(writer, 2)
        os.close(writer)
        self.thread = threading.Thread(target=self._pump, name="omni-detective-stderr-relay", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        pending = b""
        while True:
            try:
                ready, _, _ = select.select([self.reader], [], [], self.IDLE)
                if not ready:  # a line left without its newline: show it rather than glue the next writer's to it
                    if pending.strip():
                        self.say(pending.decode("utf-8", "backslashreplace"))
                    pending = b""
                    continue
                chunk = os.read(self.reader, 65536)
            except OSError:
                break
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.replace(b"\r\n", b"\n").split(b"\n")
            for line in lines:
                if line.strip():
                    self.say(line.decode("utf-8", "backslashreplace"))
        if pending.strip():
            self.say(pending.decode("utf-8", "backslashreplace"))

    def stop(self) -> None:
        """Give file descriptor 2 back and print what is left in the pipe."""
        if self.saved < 0:
            return
        with contextlib.suppress(AttributeError, ValueError, OSError):
            sys.__stderr__.flush()  # type: ignore[union-attr]
        os.dup2(self.saved, 2)  # closes the pipe's last writer here; a forked child still holding one keeps it open
        os.close(self.saved)
        self.saved = -1
        if self.thread is not None:
            self.thread.join(timeout=2.0)
            if not self.thread.is_alive():
                os.close(self.reader)


def _quiet_ffmpeg() -> None:
    """FFmpeg's own log level to errors, for the rest of the process (its warnings are noise to a user)."""
    try:
        import av.logging
    except ImportError:
        return
    av.logging.set_libav_level(av.logging.ERROR)


class LiveProgress(abc.ABC):
    """A rich bar on ``stream`` that everything else writing to standard error prints above.

    Use as a context manager, or :meth:`start` and :meth:`stop`. ``transient`` bars vanish when stopped.
    """

    def __init__(self, stream: TextIO, *, transient: bool = False, force_terminal: bool = False) -> None:
        self.stream = stream
        self.transient = transient
        self.force_terminal = force_terminal
        self.progress: Progress | None = None
        self._relay: _Fd2Relay | None = None
        self._terminal: TextIO | None = None

    @abc.abstractmethod
    def columns(self) -> tuple[Any, ...]:
        """The bar's rich columns (each kind of bar says what it shows)."""

    @property
    def console(self) -> Console:
        """The console the bar draws on (print through it to appear above the bar)."""
        assert self.progress is not None, "the bar is not started"
        return self.progress.console

    def _owns_fd2(self) -> bool:
        if os.name != "posix":  # the relay reads a pipe with select(), which Windows offers for sockets only
            return False
        try:
            return self.stream.fileno() == 2
        except (AttributeError, ValueError, OSError):
            return False

    def start(self) -> None:
        """Draw the bar; from now on standard error prints above it."""
        from rich.console import Console
        from rich.progress import Progress

        target = self.stream
        relay = self._owns_fd2()
        if relay:  # the bar draws on a copy of descriptor 2, which becomes the relay's pipe
            encoding = getattr(self.stream, "encoding", None) or "utf-8"
            self._terminal = os.fdopen(os.dup(2), "w", encoding=encoding, errors="backslashreplace", buffering=1)
            target = self._terminal
        console = Console(file=target, force_terminal=True if self.force_terminal else None)
        self.progress = Progress(
            *self.columns(),
            console=console,
            transient=self.transient,
            redirect_stdout=False,  # a caption printed on a piped standard output stays there
            redirect_stderr=True,
            refresh_per_second=4,
        )
        _quiet_ffmpeg()
        self.progress.start()
        _set_active(True)
        if relay:
            self._relay = _Fd2Relay(self.print)
            self._relay.start()

    def print(self, message: str) -> None:
        """Print a line above the bar (as it is: no markup, no highlighting)."""
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        """Draw the last state (or remove a transient bar) and give standard error back."""
        if self.progress is None:
            return
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        _set_active(False)
        self.progress.stop()
        if self._terminal is not None:
            self._terminal.flush()
            self._terminal.close()
            self._terminal = None

    def __enter__(self) -> LiveProgress:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _job_columns() -> tuple[Any, ...]:
    from rich.progress import BarColumn, MofNCompleteColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn

    # short enough for 80 columns: "run ━━━━━━━━━━━━━━━━  50% 2/4 ETA 0:00:12 · 2 in flight · 0 failed · 480 tokens"
    return (
        TextColumn("{task.description}"),
        BarColumn(bar_width=16),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("· {task.fields[counts]}"),
    )


class JobProgress(LiveProgress):
    """The job engine's bar: items done of the total to do, percent, ETA, in flight, failures (invalid lines included),
    skipped (when any) and tokens.

    ``total`` is what the run has to do (manifest lines left, less those found done, duplicate or invalid, capped
    by ``--limit``); unknown (a pulsing bar, no ETA) until the manifest is counted.
    """

    def __init__(self, summary: JobSummary, stream: TextIO, *, force_terminal: bool = False) -> None:
        super().__init__(stream, force_terminal=force_terminal)
        self.summary = summary
        self.task: TaskID | None = None

    def columns(self) -> tuple[Any, ...]:
        """See :class:`JobProgress`."""
        return _job_columns()

    def start(self) -> None:
        """Draw the bar."""
        super().start()
        assert self.progress is not None
        self.task = self.progress.add_task(self.summary.title.removeprefix("omni-detective "), total=None, counts="")
        self.update(None, 0)

    @property
    def live(self) -> bool:
        """Whether the bar is drawn now."""
        return self.progress is not None

    def update(self, total: int | None, in_flight: int) -> None:
        """Show the summary's counts now."""
        if self.progress is None or self.task is None:
            return
        s = self.summary
        counts = [f"{in_flight} in flight", f"{s.failed + s.invalid} failed"]
        if s.skipped or s.duplicates:
            counts.append(f"{s.skipped + s.duplicates} skipped")
        counts.append(f"{s.usage.total_tokens:,} tokens")
        counts_text = " · ".join(counts)
        self.progress.update(self.task, total=total, completed=s.done + s.failed, counts=counts_text, refresh=True)


class CaptionProgress(LiveProgress):
    """``caption``'s bar on a terminal: the round, observers done of those asked, observations, failures.

    Transient: it vanishes when the caption is written, so the terminal keeps only the caption and notes.
    """

    def __init__(self, stream: TextIO, *, force_terminal: bool = False) -> None:
        super().__init__(stream, transient=True, force_terminal=force_terminal)
        self.task: TaskID | None = None
        self.asked = 0
        self.answered = 0
        self.observations = 0
        self.failures = 0

    def columns(self) -> tuple[Any, ...]:
        """See :class:`CaptionProgress`."""
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

        return (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=16),
            MofNCompleteColumn(),
            TextColumn("observers · {task.fields[observations]} observations · {task.fields[failures]} failed"),
            TimeElapsedColumn(),
        )

    def start(self) -> None:
        """Draw the bar."""
        super().start()
        assert self.progress is not None
        self.task = self.progress.add_task("opening the clip", total=None, observations=0, failures=0)

    def on_event(self, event: object) -> None:
        """Move the bar on for one run event (:mod:`detective.agent.events`)."""
        from detective.agent.events import Captioned, Observed, RoundPlanned

        if self.progress is None or self.task is None:
            return
        description: str | None = None
        if isinstance(event, RoundPlanned):
            self.asked += len(event.queries)
            description = f"round {event.round}: closing the case" if event.finish else f"round {event.round}"
        elif isinstance(event, Observed):
            self.answered += 1
            self.observations += len(event.observations)
            self.failures += event.failure is not None
        elif isinstance(event, Captioned):
            description = "caption written"
        self.progress.update(
            self.task,
            total=max(self.asked, self.answered) or None,
            completed=self.answered,
            observations=self.observations,
            failures=self.failures,
            refresh=True,  # before a --live line prints above it
            **({"description": description} if description else {}),
        )


def job_display(summary: JobSummary, stream: TextIO, setting: bool | None) -> JobProgress | None:
    """The job engine's display (a :data:`~detective.jobs.display.DisplayFactory`): the bar when :func:`wanted`."""
    if not wanted(stream, setting):
        return None
    return JobProgress(summary, stream, force_terminal=setting is True)
