"""SQLiteCache: JSON round trips, persistence, namespaces, and safety across threads and tasks."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from detective.jobs.cache import SQLiteCache


def test_round_trip_and_namespaces(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite")
    value = {"content": "a tone", "tool_calls": [], "n": 3, "nested": {"x": [1.5, None, "é"]}}
    assert cache.get("llm", "k") is None
    cache.put("llm", "k", value)
    assert cache.get("llm", "k") == value
    assert cache.get("observe", "k") is None
    cache.put("llm", "k", {"replaced": True})
    assert cache.get("llm", "k") == {"replaced": True}
    assert cache.count("llm") == 1 and cache.count() == 1
    cache.close()


def test_persists_across_instances_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.sqlite"
    with SQLiteCache(path) as cache:
        cache.put("observe", "h:tool:1:q", [{"tool": "t", "content": "x"}])
    with SQLiteCache(path) as again:
        assert again.get("observe", "h:tool:1:q") == [{"tool": "t", "content": "x"}]
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with SQLiteCache(path) as cache:
        cache.put("llm", "k", 1)
        cache._conn().execute("UPDATE entries SET value = '{not json'")
        assert cache.get("llm", "k") is None


def test_threads_and_tasks_share_one_cache(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                cache.put("t", f"{n}:{i}", {"n": n, "i": i})
                assert cache.get("t", f"{n}:{i}") == {"n": n, "i": i}
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def tasks() -> None:
        async def one(n: int) -> None:
            for i in range(20):
                cache.put("a", f"{n}:{i}", i)
                await asyncio.sleep(0)
                assert cache.get("a", f"{n}:{i}") == i

        await asyncio.gather(*(one(n) for n in range(10)))

    asyncio.run(tasks())
    assert not errors
    assert cache.count("t") == 400 and cache.count("a") == 200
    cache.close()
