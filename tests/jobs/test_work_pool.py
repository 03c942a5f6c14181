"""The one pool of reusable works every executor's workers hold: a work per item in flight, reused after."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from detective.jobs.attempt import Work
from detective.jobs.manifest import Item
from detective.jobs.pool import WorkPool


def _items(n: int) -> list[Item]:
    return [Item(line=i, key=f"k{i}", record={"id": f"k{i}"}) for i in range(n)]


def _factory(built: list[int]) -> Any:
    def make_work() -> Work:
        me = len(built)
        built.append(me)

        async def work(item: Item) -> dict[str, Any]:
            await asyncio.sleep(0.01)
            return {"id": item.key, "work": me}

        return work

    return make_work


def test_a_work_is_built_per_item_in_flight_and_reused_after() -> None:
    built: list[int] = []
    pool = WorkPool(_factory(built), retries=0)

    async def go() -> list[Any]:
        first = await asyncio.gather(*(pool.run(i) for i in _items(3)))  # three at once: three works
        later = [await pool.run(i) for i in _items(5)]  # one at a time: always an idle one
        return [*first, *later]

    outcomes = asyncio.run(go())
    assert pool.built == 3 and len(built) == 3
    assert all(o.record is not None and o.record["work"] in (0, 1, 2) for o in outcomes)


def test_a_failing_item_gives_its_work_back() -> None:
    built: list[int] = []

    def make_work() -> Work:
        built.append(1)

        async def work(item: Item) -> dict[str, Any]:
            raise ValueError(f"bad {item.key}")

        return work

    pool = WorkPool(make_work, retries=0)
    outcomes = asyncio.run(asyncio.wait_for(_sequential(pool, _items(3)), 10))
    assert [o.error for o in outcomes] == ["bad k0", "bad k1", "bad k2"] and len(built) == 1


async def _sequential(pool: WorkPool, items: list[Item]) -> list[Any]:
    return [await pool.run(i) for i in items]


def test_build_fails_when_the_factory_cannot_build() -> None:
    def broken() -> Work:
        raise RuntimeError("no Detective")

    pool = WorkPool(broken, retries=0)
    with pytest.raises(RuntimeError, match="no Detective"):
        pool.build()
    assert pool.built == 0
