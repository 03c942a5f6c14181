"""What tools load once per process and share: models, inference sessions, anything costly to build.

A tool's :meth:`~detective.tools.Tool.setup` asks :func:`load_once` for what it needs under a key saying what it
is (``("ocr", config)``): the first caller in a process builds it, concurrent callers wait for that one build,
and every later tool instance asking for the same key gets the same object. So two Detectives of one worker
(a batch builds one per concurrent clip), or two tool objects with the same settings, load a model once.

A forked child starts empty: a model loaded by its parent holds threads that the fork did not copy, so the child
loads its own. A build that raises is not kept: the next caller tries again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_loaded: dict[Hashable, Any] = {}
#: One lock per key being built, so models of different tools load side by side.
_building: dict[Hashable, threading.Lock] = {}
_guard = threading.Lock()


def load_once(key: Hashable, build: Callable[[], T]) -> T:
    """The object loaded under ``key`` in this process, built by ``build()`` on first use (thread-safe).

    :param key: what the object is, including every setting that changes it (model path, threads).
    :raises: whatever ``build`` raises; nothing is kept then.
    """
    try:
        return _loaded[key]
    except KeyError:
        pass
    with _guard:
        lock = _building.setdefault(key, threading.Lock())
    with lock:
        if key not in _loaded:
            _loaded[key] = build()
        return _loaded[key]


def loaded(key: Hashable) -> bool:
    """True when an object is loaded under ``key`` in this process."""
    return key in _loaded


#: In a forked child, the parent's objects: kept, never used and never destroyed. Their destructors may wait on
#: threads or locks the fork did not copy (an onnxruntime session's did: the child hung in ``_loaded.clear()``).
_inherited: list[dict[Hashable, Any]] = []


def _forget_in_child() -> None:
    """After a fork, in the child: start empty, with fresh locks (one held at the fork would never be released).

    The parent's objects are set aside, not cleared: destroying them here can deadlock the child."""
    global _loaded, _building, _guard
    _inherited.append(_loaded)
    _loaded, _building, _guard = {}, {}, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
