"""Worker threads for synchronous code that must never hold up a run, nor the process's exit.

``asyncio.to_thread`` runs a function in the event loop's default executor, whose threads are joined when the loop
closes (``asyncio.run``) and again at interpreter exit. One call that never returns (a tool stuck in a C library,
a plugin's ``time.sleep(3600)``) keeps its pool slot forever: once the few slots are taken every later call
queues behind them, and the process never exits. :func:`run_sync` runs the function in a daemon thread of its own
instead: awaiting it can be cancelled or timed out, the thread is then abandoned (whatever it returns later is
dropped), and nothing joins it at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ThreadExit(RuntimeError):
    """Synchronous code run by :func:`run_sync` raised ``SystemExit`` or ``KeyboardInterrupt``: in a worker thread
    that ends nothing but the thread, so it is reported as an error of the call instead."""


async def run_sync(fn: Callable[..., T], /, *args: Any, name: str = "", **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in a new daemon thread, in a copy of the current context, and await its result.

    Cancelling the await (``asyncio.wait_for``'s timeout, Ctrl-C) returns at once and abandons the thread: Python
    cannot stop it, but it holds no shared slot and never delays the exit of the process.

    :param name: the thread's name (default: the function's), shown by debuggers and ``py-spy``.
    :raises ThreadExit: ``fn`` raised ``SystemExit`` or ``KeyboardInterrupt``.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled or timed out meanwhile: nobody waits for this answer any more
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def target() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = context.run(fn, *args, **kwargs)
        except Exception as exc:
            error = exc
        except BaseException as exc:  # SystemExit / KeyboardInterrupt raised by the code itself
            error = ThreadExit(f"{label} raised {type(exc).__name__}({exc})")
        with contextlib.suppress(RuntimeError):  # the loop closed while this thread ran: the answer goes nowhere
            loop.call_soon_threadsafe(settle, result, error)

    label = name or getattr(fn, "__qualname__", None) or repr(fn)
    threading.Thread(target=target, name=f"omni-detective {label}", daemon=True).start()
    return await future


#: Observers a clip runs at once by default (``DetectiveConfig.max_concurrency``): the cores are shared among them.
OBSERVERS_AT_ONCE = 4
#: The variable that sets every observer model's threads at once (a tool's own variable wins over it).
MODEL_THREADS_VARIABLE = "OMNI_DETECTIVE_MODEL_THREADS"


def model_threads(variable: str = "", configured: int = 0, most: int = 4) -> int:
    """Intra-op threads for an observer's model (onnxruntime, CTranslate2, OpenCV).

    ``configured`` when positive, else the tool's own ``variable``, else ``$OMNI_DETECTIVE_MODEL_THREADS``, else
    the machine's cores shared among the observers a clip runs at once (:data:`OBSERVERS_AT_ONCE`), rounded up:
    1 on up to 4 cores, 2 on 5 to 8, at most ``most``. A model's threads wait for each other at every layer, so
    when the other observers keep the cores busy one thread per model does the same work for less CPU (Whisper
    tiny.en: 2.45 against 2.85 CPU s per 30 s window; the offline Detective on 2 cores, one run each: 158 against
    184 CPU s on a 10-minute clip).
    """
    from detective.llm.settings import int_variable

    if configured > 0:
        return configured
    for name in (variable, MODEL_THREADS_VARIABLE):
        value = int_variable(name) if name else None  # junk is an error naming the variable, never ignored
        if value is not None:
            return value
    return max(1, min(most, -(-(os.cpu_count() or 1) // OBSERVERS_AT_ONCE)))
