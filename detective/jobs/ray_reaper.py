"""The reaper of a Ray this process started: it stops what is left of the Ray session once the driver is gone.

A Ray started by ``ray.init`` fate-shares its raylet and GCS with the driver (they die with it, even after
``kill -9``), and its workers follow within about two seconds. Ray's two agents, ``ray::DashboardAgent`` and
``ray::RuntimeEnvAgent``, see the raylet die at once but then try to report that to the GCS, which is gone too,
and wait for that call's 60 s deadline before they exit (Ray 2.60, ``process_watcher.report_raylet_error_logs``).

The reaper is a small process of its own (its own session, so Ctrl-C at the terminal and a signal to the driver's
process group leave it alone) started right after ``ray.init``. It reads a pipe whose only writer is the driver:
end of file means the driver is gone, however it ended (a clean stop, an exception, ``os._exit``, ``kill -9``).
It then kills with SIGKILL every process that still holds a file open in the Ray session's directory and runs
Ray's code: that directory is this session's alone, so no other Ray on the machine is touched.

Run as ``python ray_reaper.py SESSION_DIR FD DRIVER_PID`` (only the standard library: it never imports Ray or
the project).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

#: Seconds the reaper may keep killing stragglers of the session after the driver is gone (a process that was
#: starting when the driver died may appear late); it stops at the first sweep that finds none.
SWEEP_SECONDS = 2.0


def session_processes(session_dir: str | os.PathLike[str], spare: int | None = None) -> list[int]:
    """Processes that hold a file open under ``session_dir`` and run Ray's code (a ``ray::`` process title, or
    Ray's package or binaries on the command line); never this process nor ``spare`` (the driver)."""
    root = os.path.realpath(session_dir).rstrip("/") + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in {os.getpid(), spare}:
            continue
        try:
            holds = any(os.readlink(fd).startswith(root) for fd in (entry / "fd").iterdir())
            if holds and _runs_ray((entry / "cmdline").read_bytes()):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def _runs_ray(cmdline: bytes) -> bool:
    return cmdline.startswith(b"ray::") or b"/ray/" in cmdline


def reap(session_dir: str | os.PathLike[str], spare: int | None = None, sweep: float = SWEEP_SECONDS) -> int:
    """Kill the session's processes (but ``spare``) until a sweep finds none, for at most ``sweep`` seconds; the
    number killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + sweep
    while True:
        found = session_processes(session_dir, spare)
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        if not found or time.monotonic() >= deadline:
            return len(killed)
        time.sleep(0.2)


def wait_for_eof(fd: int) -> None:
    """Block until every writer of the pipe ``fd`` has closed it (the driver exited or let the reaper go)."""
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass


def main(argv: list[str]) -> int:
    """``SESSION_DIR FD DRIVER_PID``: wait for the driver to go (or let go), then reap its Ray session."""
    session_dir, fd, driver = argv[0], int(argv[1]), int(argv[2])
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only the driver's end of the pipe decides when to reap
    wait_for_eof(fd)
    reap(session_dir, spare=driver)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
