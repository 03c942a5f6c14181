"""A damaged cache file is moved aside with a warning and rebuilt; damage found mid-run turns the cache off."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest
import structlog

from detective.jobs.cache import SQLiteCache


def _filled(path: Path, n: int = 400) -> None:
    with SQLiteCache(path) as cache:
        for i in range(n):
            cache.put("llm", f"k{i}", {"reply": "x" * 200, "i": i})
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def _truncate(path: Path) -> None:
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size // 3)


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _damaged_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data), 3 * page):  # every third page after the schema's, header kept
        data[start + 8 : start + 600] = os.urandom(592)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _random_bytes, _damaged_pages], ids=["truncated", "random", "pages"])
def test_damaged_file_is_moved_aside_and_rebuilt(tmp_path: Path, damage) -> None:
    path = tmp_path / "c.sqlite"
    _filled(path)
    damage(path)
    with structlog.testing.capture_logs() as logs:
        cache = SQLiteCache(path)
    try:
        assert cache.moved_aside is not None and cache.moved_aside.exists()
        assert any("damaged" in entry["event"] for entry in logs)
        assert cache.get("llm", "k1") is None
        cache.put("llm", "k1", {"again": True})
        assert cache.get("llm", "k1") == {"again": True}
    finally:
        cache.close()
    with SQLiteCache(path) as again:  # healthy now: kept as it is
        assert again.moved_aside is None and again.get("llm", "k1") == {"again": True}


def test_damage_found_mid_run_turns_the_cache_off_without_failing(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    _filled(path)
    cache = SQLiteCache(path, check=False)
    try:
        _damaged_pages(path)

        def use() -> None:  # a new thread: a new connection, which reads the damaged pages from the file
            for i in range(400):  # some reads hit a damaged page: misses, not errors
                cache.get("llm", f"k{i}")
            cache.put("llm", "new", 1)

        with structlog.testing.capture_logs() as logs:
            thread = threading.Thread(target=use)
            thread.start()
            thread.join(timeout=30)
        assert cache._broken and sum("damaged during the run" in e["event"] for e in logs) == 1
        assert cache.get("llm", "k0") is None
    finally:
        cache.close()
    with SQLiteCache(path) as healed:
        assert healed.moved_aside is not None
