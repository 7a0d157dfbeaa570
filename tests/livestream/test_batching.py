"""Concurrent lookups share one query; errors reach every waiter."""

import asyncio

import pytest

from livestream.batching import BatchLoader

# The loader runs its fetch on the database thread, which checks the connection.
pytestmark = pytest.mark.django_db


async def test_concurrent_loads_are_fetched_together():
    calls = []

    def fetch(keys):
        calls.append(sorted(keys))
        return {key: key * 10 for key in keys if key != 3}

    loader = BatchLoader(fetch)
    results = await asyncio.gather(*(loader.load(key) for key in [1, 2, 3, 2, 1]))
    assert results == [10, 20, None, 20, 10]
    assert calls == [[1, 2, 3]]


async def test_keys_asked_during_a_fetch_wait_for_the_next_one():
    calls = []

    def fetch(keys):
        calls.append(sorted(keys))
        return {key: key for key in keys}

    loader = BatchLoader(fetch)
    first = asyncio.ensure_future(loader.load(1))
    await asyncio.sleep(0)  # the first fetch is now in flight
    later = await asyncio.gather(loader.load(2), loader.load(3))
    assert await first == 1 and later == [2, 3]
    assert calls[0] == [1] and sorted(sum(calls[1:], [])) == [2, 3]


async def test_a_failed_fetch_fails_every_waiter_and_the_next_batch_runs():
    def fetch(keys):
        if 1 in keys:
            raise RuntimeError("database down")
        return {key: key for key in keys}

    loader = BatchLoader(fetch)
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(loader.load(1), 5)
    assert await asyncio.wait_for(loader.load(2), 5) == 2
