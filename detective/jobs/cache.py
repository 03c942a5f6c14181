"""A persistent cache of LLM replies and observer results in one SQLite file.

Values are JSON. The file is opened in WAL mode so several processes may read while one writes, and every
thread gets its own connection (SQLite connections must not cross threads), so the cache is safe from asyncio
tasks, from tool worker threads and from parallel batch runs sharing one ``--cache-path``.

Namespaces keep kinds of entries apart: ``llm`` (chat replies, keyed by the request; see
:func:`detective.llm.client.request_key`) and ``observe`` (observer results, keyed by media content hash, tool, tool
version and query key).

**A damaged file heals.** On open the file is checked (``PRAGMA quick_check``: a truncated file, random bytes or
damaged pages all fail it); a damaged file is moved aside (``cache.sqlite.damaged-<time>``, with its ``-wal`` and
``-shm``) with a warning, and an empty cache is built in its place: the run goes on and only pays again for what
the lost entries held. Damage found later, mid-run, turns the cache off for this instance (reads miss, writes are
skipped) with one warning; the next open heals the file. A full file system under the cache does the same: the
clips go on without it.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("detective.jobs.cache")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID
"""


class CacheError(RuntimeError):
    """The cache file cannot be opened or written: the message names the file and the cause."""


#: SQLite errors that mean the file is damaged (not busy, not read-only).
_DAMAGE = ("malformed", "not a database", "disk image", "file is encrypted", "database corrupt")


#: SQLite errors that mean the file system is full (``SQLITE_FULL``): the cache is then off for the run, as for damage.
_FULL = ("database or disk is full", "disk i/o error")


def _is_damage(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and any(word in str(exc).lower() for word in _DAMAGE)


def _is_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.DatabaseError) and any(word in str(exc).lower() for word in _FULL)


class SQLiteCache:
    """``get(namespace, key)`` / ``put(namespace, key, value)`` over a SQLite file (JSON values, WAL mode).

    ``check`` (default on) runs SQLite's quick integrity check when opening and heals a damaged file;
    :attr:`moved_aside` is then where the damaged file went.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0, check: bool = True) -> None:
        self.path = Path(path).expanduser()
        self.timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._broken = False
        self._pid = os.getpid()
        self.moved_aside: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open(check)
        except (OSError, sqlite3.Error) as exc:
            if _is_full(exc):
                self._damaged(exc)  # off for this run: nothing to heal, the file system has no room
                return
            if not (_is_damage(exc) or isinstance(exc, _Damaged)):
                raise CacheError(f"cache {self.path}: cannot open ({type(exc).__name__}: {exc})") from exc
            self._heal(exc)
            try:
                self._open(False)
            except (OSError, sqlite3.Error) as again:
                raise CacheError(f"cache {self.path}: cannot open ({type(again).__name__}: {again})") from again

    def _open(self, check: bool) -> None:
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        if check:
            verdict = [row[0] for row in conn.execute("PRAGMA quick_check").fetchall()]
            if verdict != ["ok"]:
                raise _Damaged("; ".join(str(v) for v in verdict[:3]))

    def _heal(self, exc: BaseException) -> None:
        """Move the damaged file (and its WAL and shared-memory files) aside; a new one is built in its place."""
        self._close_connections()
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                os.replace(part, aside.with_name(aside.name + suffix))
        self.moved_aside = aside
        log.warning(
            "cache file damaged: moved aside, starting an empty cache",
            cache=str(self.path),
            moved_to=str(aside),
            error=f"{type(exc).__name__}: {exc}",
        )

    def _close_connections(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def _damaged(self, exc: BaseException) -> None:
        if not self._broken:
            self._broken = True
            if _is_full(exc):
                log.warning(
                    "cache file system full: cache off for this run (clips go on without it)",
                    cache=str(self.path),
                    error=f"{type(exc).__name__}: {exc}",
                )
                return
            log.warning(
                "cache file damaged during the run: cache off until the next run heals it",
                cache=str(self.path),
                error=f"{type(exc).__name__}: {exc}",
            )

    def _conn(self) -> sqlite3.Connection:
        if os.getpid() != self._pid:
            # a forked batch worker: SQLite connections must not cross a fork. The inherited ones are kept (closing
            # them here could disturb the parent's locks) and never used; this process opens its own.
            self._inherited = self._connections
            self._local = threading.local()
            self._connections = []
            self._lock = threading.Lock()
            self._pid = os.getpid()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise CacheError(f"cache {self.path}: used after close()")
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def get(self, namespace: str, key: str) -> Any | None:
        """The stored value, or ``None`` when absent (or unreadable: a corrupt entry is a miss, not a crash)."""
        if self._broken:
            return None
        try:
            row = (
                self._conn()
                .execute("SELECT value FROM entries WHERE namespace = ? AND key = ?", (namespace, key))
                .fetchone()
            )
        except sqlite3.Error as exc:
            if _is_damage(exc) or _is_full(exc):
                self._damaged(exc)
                return None
            raise CacheError(f"cache {self.path}: read failed ({type(exc).__name__}: {exc})") from exc
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except json.JSONDecodeError:
            return None

    def put(self, namespace: str, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``(namespace, key)``, replacing any previous value."""
        blob = json.dumps(value, ensure_ascii=False, default=_json_default)
        if self._broken:
            return
        try:
            self._conn().execute(
                "INSERT OR REPLACE INTO entries (namespace, key, value, created) VALUES (?, ?, ?, ?)",
                (namespace, key, blob, time.time()),
            )
        except (sqlite3.Error, OSError) as exc:
            if _is_damage(exc) or _is_full(exc):
                self._damaged(exc)
                return
            raise CacheError(f"cache {self.path}: write failed ({type(exc).__name__}: {exc})") from exc

    def count(self, namespace: str | None = None) -> int:
        """Number of entries, in one namespace or in all."""
        if namespace is None:
            row = self._conn().execute("SELECT COUNT(*) FROM entries").fetchone()
        else:
            row = self._conn().execute("SELECT COUNT(*) FROM entries WHERE namespace = ?", (namespace,)).fetchone()
        return int(row[0])

    def clear(self, namespace: str | None = None) -> None:
        """Delete every entry, or those of one namespace."""
        if namespace is None:
            self._conn().execute("DELETE FROM entries")
        else:
            self._conn().execute("DELETE FROM entries WHERE namespace = ?", (namespace,))

    def close(self) -> None:
        """Close every connection this cache opened (in any thread)."""
        with self._lock:
            self._closed = True
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its path: a process that unpickles it (a Ray actor) opens its own connection to the file."""
        return (_reopen, (str(self.path), self.timeout))

    def __enter__(self) -> SQLiteCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SQLiteCache {self.path}>"


def _reopen(path: str, timeout: float) -> SQLiteCache:
    # the process that pickled the cache checked (and healed) the file already
    return SQLiteCache(path, timeout=timeout, check=False)


class _Damaged(sqlite3.DatabaseError):
    """The integrity check found damage."""


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    raise TypeError(f"cache values must be JSON-serialisable, got {type(value).__name__}")


def default_cache_path() -> Path:
    """The user-wide cache file: ``$XDG_CACHE_HOME/omni-detective/cache.sqlite`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "omni-detective" / "cache.sqlite"
