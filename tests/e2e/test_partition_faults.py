"""Availability with partitions, as real processes: a replica killed mid-batch and a scale from
one replica to three and back lose nothing, apply nothing twice and keep each position's
changes in the order its events were published."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from benchmarks.common import applied_count, metric_total
from distsync_sim.testing import isolated_vhost
from shared.inbox import count as inbox_count
from shared.runtime import mongo_client
from tests.e2e.harness import eventually
from tests.e2e.replica_procs import Changes, Feed, Replicas, depths, totals_wrong

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

P = 6  # a multiple of 1, 2 and 3 replicas
RATE = 120.0  # events/s offered: a shared two-core machine keeps up with it on one replica


@pytest.fixture
def vhost(amqp_base_url: str) -> Iterator[str]:
    """A vhost per test: the partition queues have fixed names."""
    with isolated_vhost(amqp_base_url) as url:
        yield url


@pytest.fixture
async def replicas(vhost: str, mongodb_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    r = Replicas(vhost, mongodb_url, "e2e_parts_" + uuid.uuid4().hex[:8], P, tmp_path)
    await r.declare()
    yield r
    await r.stop_all()
    client = mongo_client(mongodb_url)
    await client.drop_database(r.db)
    await client.close()


async def _all_applied(r: Replicas, feed: Feed, timeout: float) -> None:
    """Every event in the inbox and every queue empty (a killed replica's count is gone with
    it, so the database counts, not /metrics)."""
    client = mongo_client(r.mongodb_url)
    try:

        async def done() -> bool:
            inbox = await inbox_count(client[r.db])
            queued = await depths(r.amqp_url, P)
            return inbox >= feed.n and not any(queued.values())

        await eventually(done, timeout=timeout, interval=0.5)
        assert await inbox_count(client[r.db]) == feed.n
    finally:
        await client.close()


async def _check(r: Replicas, feed: Feed, changes: Changes) -> None:
    url = r.alive()[0].url
    assert await totals_wrong(url, feed) == []
    queued = await depths(r.amqp_url, P)
    assert queued["availability.dlq"] == 0, queued
    assert await eventually(lambda: _quiet(changes), timeout=10)
    assert changes.out_of_order(feed) == []


async def _quiet(changes: Changes) -> bool:
    """No change seen for a second: the outboxes have sent what they hold."""
    return bool(changes.seen) and time.monotonic() - changes.seen[-1][0] > 1.0


async def test_a_replica_killed_mid_batch_hands_its_partitions_over_without_loss(
    replicas: Replicas,
) -> None:
    a = await replicas.add()
    b = await replicas.add()
    feed = Feed(3000, 120, P, "K" + uuid.uuid4().hex[:6])
    changes = Changes()
    await changes.listen(replicas.amqp_url)
    try:
        publishing = asyncio.create_task(feed.publish(replicas.amqp_url, RATE))
        # the balance gave b its share, and b is in the middle of its batches
        await eventually(lambda: _all_hold(a.port, b.port), timeout=40, interval=0.2)
        await eventually(lambda: _feed_at(feed, feed.n // 3), timeout=40)
        b_applied, b_held = applied_count(b.port), _held(b.port)
        t_kill = time.monotonic()
        await asyncio.to_thread(b.kill)
        await eventually(lambda: _holds_all(a.port), timeout=30, interval=0.1)
        taken_over = time.monotonic() - t_kill
        await publishing
        await _all_applied(replicas, feed, timeout=60)
        resumed = changes.resumed_after(t_kill, feed)
        print(
            f"\nSIGKILL of a replica holding {b_held:.0f} partitions, {b_applied:.0f} applied: "
            f"the survivor received from all {P} within {taken_over:.2f} s (its gauge, "
            f"refreshed every 0.5 s); every partition had a new change seen "
            f"{resumed:.2f} s after the kill; hand-offs by the survivor "
            f"{metric_total((a.port,), 'distsync_partition_handoffs_total'):.0f}"
        )
        assert b_held > 0
        await _check(replicas, feed, changes)
    finally:
        await changes.close()


async def test_scaling_from_one_replica_to_three_and_back_under_load_loses_nothing(
    replicas: Replicas,
) -> None:
    a = await replicas.add()
    feed = Feed(3000, 120, P, "S" + uuid.uuid4().hex[:6])
    changes = Changes()
    await changes.listen(replicas.amqp_url)
    try:
        publishing = asyncio.create_task(feed.publish(replicas.amqp_url, RATE))
        await eventually(lambda: _feed_at(feed, feed.n // 5), timeout=40)
        b, c = await asyncio.gather(replicas.add(), replicas.add())
        # the balance spreads them evenly: two each (the gauge counts a partition for 5 s
        # after its last delivery, so a hand-off shows on both sides for a moment)
        await eventually(lambda: _even(a.port, b.port, c.port), timeout=60, interval=0.5)
        held = [_held(p.port) for p in (a, b, c)]
        await eventually(lambda: _feed_at(feed, feed.n * 3 // 4), timeout=40)
        t_stop = time.monotonic()
        await asyncio.gather(asyncio.to_thread(b.stop), asyncio.to_thread(c.stop))
        drained_s = time.monotonic() - t_stop
        await publishing
        await _all_applied(replicas, feed, timeout=60)
        print(
            f"\npartitions held with three replicas: {held}; two replicas drained and left "
            f"(SIGTERM) in {drained_s:.1f} s; hand-offs by the one left "
            f"{metric_total((a.port,), 'distsync_partition_handoffs_total'):.0f}"
        )
        assert [p.popen.returncode for p in (b, c) if p.popen] == [0, 0]
        await _check(replicas, feed, changes)
    finally:
        await changes.close()


async def _feed_at(feed: Feed, n: int) -> bool:
    return feed.published >= n


def _held(port: int) -> float:
    return metric_total((port,), "distsync_partitions_held")


async def _holds_all(port: int) -> bool:
    """The replica received from every partition lately: the moved ones are consumed again."""
    return await asyncio.to_thread(_held, port) >= P


async def _even(*ports: int) -> bool:
    """The replicas hold P / N partitions each."""
    held = [await asyncio.to_thread(_held, p) for p in ports]
    return held == [P / len(ports)] * len(ports)


async def _all_hold(*ports: int) -> bool:
    """Every replica holds partitions: the balance spread them."""
    held = [await asyncio.to_thread(_held, p) for p in ports]
    return all(h > 0 for h in held)
