"""How a command ends when it is stopped: Ctrl-C (SIGINT) and SIGTERM alike, on every executor.

- **SIGTERM is handled as Ctrl-C.** Its handler re-raises the signal as SIGINT, so whatever Ctrl-C does at that
  moment happens: asyncio's runner cancels the main task (downloads remove their temporary folders, the job engine
  writes its summary and checkpoint, worker processes are stopped), or ``KeyboardInterrupt`` is raised in
  synchronous code. The exit code then says which signal it was: 130 for SIGINT, 143 for SIGTERM.
- **The interpreter is left with ``os._exit``** once a stopped command has cleaned up and flushed its streams.
  Observers run native thread pools (onnxruntime, CTranslate2) in worker threads that cannot be stopped from
  Python; a normal interpreter exit runs C++ static destructors under them, which ends in ``std::terminate``
  ("terminate called without an active exception", exit 134). ``os._exit`` skips that teardown: every file
  the command writes is already closed or fsynced by then.

A forked worker process that inherits the SIGTERM handler takes the default action (it dies), as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from types import FrameType

#: Exit codes of a command stopped by a signal: 128 + the signal's number, as a shell reports it.
INTERRUPTED = 128 + signal.SIGINT
TERMINATED = 128 + signal.SIGTERM

_state = {"terminated": False, "owner": 0}


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _state["owner"]:  # a forked child: SIGTERM keeps its default meaning there
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _state["terminated"] = True
    signal.raise_signal(signal.SIGINT)  # from here on, exactly what Ctrl-C does


def install() -> None:
    """Handle SIGTERM as Ctrl-C in this process (call once, from the main thread, before the command runs)."""
    _state["owner"] = os.getpid()
    _state["terminated"] = False
    signal.signal(signal.SIGTERM, _on_sigterm)


def exit_code() -> int:
    """The exit code of a command stopped now: 143 after SIGTERM, else 130 (Ctrl-C)."""
    return TERMINATED if _state["terminated"] else INTERRUPTED


def hard_exit(code: int) -> None:
    """Flush the standard streams and the log handlers, then end the process at once with ``code``.

    Only for a command that has finished its cleanup (see the module docstring for why not ``sys.exit``).
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        logging.shutdown()
    os._exit(code)
