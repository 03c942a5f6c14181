"""glibc's memory allocator, set once per process for a run's many threads.

glibc gives a thread that finds the heap busy an arena of its own, up to 8 per core. The observers of a clip run in
many threads at once (decoders, onnxruntime, CTranslate2, :func:`detective.threads.run_sync` workers), and each
arena keeps the frame and tensor buffers freed into it mapped for the next caller: memory then grows with the
clip's length and the process spends CPU faulting in fresh pages. Two arenas keep contention low and memory flat.
On the 10-minute loop of the demo clip on 2 cores (``benchmarks/observers.py``, one run each): peak 1103 MB →
792 MB (1.46x → 1.21x the 20 s clip's).

``MALLOC_ARENA_MAX`` in the environment wins (glibc reads it at start-up, and this leaves it alone);
``OMNI_DETECTIVE_MALLOC_ARENAS=0`` keeps glibc's default. Other C libraries (macOS, musl) are left as they are.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

#: ``mallopt`` parameter number of the arena limit (glibc's ``M_ARENA_MAX``).
M_ARENA_MAX = -8
#: Arenas a process of the Detective keeps.
ARENAS = 2
VARIABLE = "OMNI_DETECTIVE_MALLOC_ARENAS"

_done = False
_lock = threading.Lock()


def limit_arenas() -> int | None:
    """Cap glibc's arenas for this process (once; later calls do nothing) and return the cap, or ``None`` when
    left alone: not glibc, ``MALLOC_ARENA_MAX`` set, or ``OMNI_DETECTIVE_MALLOC_ARENAS=0``."""
    global _done
    if _done:
        return None
    with _lock:
        if _done:
            return None
        _done = True
        wanted = os.environ.get(VARIABLE, "")
        arenas = int(wanted) if wanted.isdigit() else ARENAS
        if arenas <= 0 or "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
            return None
        try:
            # The process's own symbols: no library search (find_library runs subprocesses), nothing that blocks
            # the event loop this is called from.
            libc = ctypes.CDLL(None)
        except OSError:
            return None
        if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
            return None  # not glibc: musl has no arenas to cap
        mallopt = libc.mallopt
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        return arenas if mallopt(M_ARENA_MAX, arenas) == 1 else None
