"""Exactly-once JSONL output: torn tails cut, whole lines appended and synced."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from detective.jobs.jsonl import JsonlAppender, cut_torn_tail


def test_cut_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    assert cut_torn_tail(path) == 0  # missing file
    path.write_bytes(b'{"id": 1}\n{"id": 2}\n')
    assert cut_torn_tail(path) == 0
    path.write_bytes(b'{"id": 1}\n{"id": 2}\n{"id": 3, "capt')
    assert cut_torn_tail(path) == len(b'{"id": 3, "capt')
    assert path.read_bytes() == b'{"id": 1}\n{"id": 2}\n'
    path.write_bytes(b'{"id": 1, "half')
    assert cut_torn_tail(path) == 15 and path.read_bytes() == b""
    big = b'{"id": 0}\n' + b"x" * 200_000
    path.write_bytes(big)
    assert cut_torn_tail(path) == 200_000 and path.read_bytes() == b'{"id": 0}\n'


def test_concurrent_appends_are_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"

    async def main() -> None:
        with JsonlAppender(path) as out:
            await asyncio.gather(*(out.append({"id": i, "blob": "é" * (i * 997)}) for i in range(60)))

    asyncio.run(main())
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["id"] for r in records) == list(range(60))
    assert all(len(r["blob"]) == r["id"] * 997 for r in records)
