"""A persistent cache of LLM replies and observer results in one SQLite file.

Values are JSON. The file is opened in WAL mode so several processes may read while one writes, and every
thread gets its own connection (SQLite connections must not cross threads), so the cache is safe from asyncio
tasks, from tool worker threads and from parallel batch runs sharing one ``--cache-path``.

Namespaces keep kinds of entries apart: ``llm`` (chat replies, keyed by the request; see
:func:`detective.llm.request_key`) and ``observe`` (observer results, keyed by media content hash, tool, tool
version and query key).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

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


class SQLiteCache:
    """``get(namespace, key)`` / ``put(namespace, key, value)`` over a SQLite file (JSON values, WAL mode)."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser()
        self.timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"cache {self.path}: cannot open ({type(exc).__name__}: {exc})") from exc

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
        try:
            row = (
                self._conn()
                .execute("SELECT value FROM entries WHERE namespace = ? AND key = ?", (namespace, key))
                .fetchone()
            )
        except sqlite3.Error as exc:
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
        try:
            self._conn().execute(
                "INSERT OR REPLACE INTO entries (namespace, key, value, created) VALUES (?, ?, ?, ?)",
                (namespace, key, blob, time.time()),
            )
        except sqlite3.Error as exc:
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

    def __enter__(self) -> SQLiteCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SQLiteCache {self.path}>"


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    raise TypeError(f"cache values must be JSON-serialisable, got {type(value).__name__}")


def default_cache_path() -> Path:
    """The user-wide cache file: ``$XDG_CACHE_HOME/omni-detective/cache.sqlite`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "omni-detective" / "cache.sqlite"
