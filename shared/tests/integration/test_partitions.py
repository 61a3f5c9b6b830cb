"""Partitioned consumption against the real broker: one replica per partition at a time."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from runtime_support import (
    drain_queue,
    eventually,
    publish,
    publish_steps,
    queue_depth,
    sequence_service,
    settings_for,
    start,
)
from shared import failures as F
from shared.inbox import count as inbox_count
from shared.runtime import ServiceRuntime
from shared.topology import partition_queue

pytestmark = pytest.mark.integration

P = 6  # a multiple of 2 and 3: each replica count in these tests gets an even share


async def _steps(mongo, db) -> dict[str, list[int]]:
    return {d["_id"]: d["seq"] async for d in mongo[db]["steps"].find({})}


async def _all_applied(mongo, db, keys, per_key) -> bool:
    got = await _steps(mongo, db)
    return all(len(got.get(k, [])) >= per_key for k in keys)


async def _queues_empty(url, svc) -> bool:
    names = [f"{svc.name}.main"] + [partition_queue(svc.name, i) for i in range(P)]
    return all([await queue_depth(url, n) == 0 for n in names])


def _in_order(steps: dict[str, list[int]], keys: list[str], per_key: int) -> None:
    for k in keys:
        assert steps[k] == list(range(per_key)), f"{k}: {steps[k][:20]}..."


async def _crash(rt: ServiceRuntime) -> None:
    """Die without a goodbye: no batch is finished, the broker returns what was in hand."""
    if rt.router is not None and rt.router._task is not None:
        rt.router._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await rt.router._task
    assert rt.consumer is not None
    rt.consumer._batches.stopping = True
    for t in [*rt.consumer._workers, *rt.consumer._batches.running]:
        t.cancel()
    with contextlib.suppress(Exception):
        await rt.connection.close()
    if rt.relay is not None:
        await rt.relay.stop(flush=False)
    await rt.sessions.stop()
    with contextlib.suppress(Exception):
        await rt.client.close()


async def test_two_replicas_split_the_partitions_and_keep_each_keys_order(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = sequence_service()
    s = settings_for(
        amqp_url, mongodb_url, db_name, partitions=P, batch_size=20, partition_balance_s=0.5
    )
    a = await start(svc, s)
    b = await start(svc, s)
    keys = [f"k{i}" for i in range(24)]
    try:
        await publish_steps(amqp_url, keys, 60)
        # an invalid message is refused by the router, which dead-letters it at once
        await publish(amqp_url, "wms.events", "step.happened", b'{"not": "a cloudevent"}')

        async def both_hold() -> bool:
            assert a.consumer and b.consumer and a.consumer._partitions and b.consumer._partitions
            return bool(a.consumer._partitions.held()) and bool(b.consumer._partitions.held())

        await eventually(both_hold, timeout=60)
        await publish_steps(amqp_url, keys, 60, start=60)
        await eventually(lambda: _all_applied(mongo, db_name, keys, 120), timeout=120)
        _in_order(await _steps(mongo, db_name), keys, 120)
        await eventually(lambda: _queues_empty(amqp_url, svc), timeout=30)
        dead = await drain_queue(amqp_url, f"{svc.name}.dlq")
        assert len(dead) == 1
        assert dead[0].headers[F.H_ORIG_EXCHANGE] == "wms.events"
        assert dead[0].headers[F.H_QUEUE] == f"{svc.name}.main"
        assert await inbox_count(mongo[db_name]) == len(keys) * 120
        assert [a.router.active, b.router.active].count(True) == 1  # type: ignore[union-attr]
    finally:
        await a.stop()
        await b.stop()


async def test_a_crashed_replicas_partitions_and_router_move_to_the_survivor(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = sequence_service()
    s = settings_for(
        amqp_url, mongodb_url, db_name, partitions=P, batch_size=20, partition_balance_s=0.5
    )
    a = await start(svc, s)
    keys = [f"c{i}" for i in range(16)]
    await publish_steps(amqp_url, keys, 40)
    b = await start(svc, s)
    try:
        await eventually(lambda: _any_applied(mongo, db_name, 100), timeout=30)
        await _crash(a)  # mid-stream: its batches and its router die with it
        await publish_steps(amqp_url, keys, 40, start=40)
        await eventually(lambda: _all_applied(mongo, db_name, keys, 80), timeout=120)
        _in_order(await _steps(mongo, db_name), keys, 80)
        await eventually(lambda: _queues_empty(amqp_url, svc), timeout=30)
        assert await inbox_count(mongo[db_name]) == len(keys) * 80
        assert b.router is not None and b.router.active
        assert await queue_depth(amqp_url, f"{svc.name}.dlq") == 0
    finally:
        await b.stop()


async def _any_applied(mongo, db, n) -> bool:
    return await inbox_count(mongo[db]) >= n


async def test_scaling_from_one_to_three_replicas_and_back_under_load_loses_and_reorders_nothing(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = sequence_service()
    s = settings_for(
        amqp_url, mongodb_url, db_name, partitions=P, batch_size=20, partition_balance_s=0.5
    )
    keys = [f"s{i}" for i in range(20)]
    first = await start(svc, s)
    more: list[ServiceRuntime] = []
    rounds = 0
    scaled_in = asyncio.Event()

    async def feed() -> None:  # load until the scale-in is over, in rounds of 10 per key
        nonlocal rounds
        while not scaled_in.is_set():
            await publish_steps(amqp_url, keys, 10, start=rounds)
            rounds += 10

    async def all_three_hold() -> bool:
        return all(rt.consumer._partitions.held() for rt in [first, *more])  # type: ignore[union-attr]

    feeding = asyncio.create_task(feed())
    try:
        await eventually(lambda: _any_applied(mongo, db_name, 200), timeout=30)
        more = [await start(svc, s), await start(svc, s)]  # scale out under load
        await eventually(all_three_hold, timeout=60)
        for rt in more:  # scale in: each drains before it leaves
            await rt.stop()
        more = []
        scaled_in.set()
        await feeding
        await eventually(lambda: _all_applied(mongo, db_name, keys, rounds), timeout=120)
        _in_order(await _steps(mongo, db_name), keys, rounds)
        await eventually(lambda: _queues_empty(amqp_url, svc), timeout=30)
        assert await inbox_count(mongo[db_name]) == len(keys) * rounds
        assert await queue_depth(amqp_url, f"{svc.name}.dlq") == 0
    finally:
        scaled_in.set()
        with contextlib.suppress(Exception):
            await feeding
        for rt in [first, *more]:
            await rt.stop()


async def _layout(mongo, db) -> int | None:
    doc = await mongo[db]["partition_layout"].find_one({"_id": "layout"})
    return int(doc["count"]) if doc else None


@pytest.mark.parametrize("before,after", [(4, 6), (6, 3)])
async def test_changing_the_partition_count_mid_stream_keeps_order_and_loses_nothing(
    amqp_url, mongodb_url, mongo, db_name, before, after
):
    svc = sequence_service()
    keys = [f"r{i}" for i in range(16)]

    def cfg(n: int):
        # a small prefetch leaves most of a partition's backlog in the queue, not in hand
        return settings_for(
            amqp_url,
            mongodb_url,
            db_name,
            partitions=n,
            batch_size=10,
            prefetch=20,
            partition_balance_s=0.5,
        )

    old = await start(svc, cfg(before))
    await publish_steps(amqp_url, keys, 50)
    await eventually(lambda: _any_applied(mongo, db_name, 100), timeout=30)
    await old.stop()  # the rollout: the old replica drains, partitions keep their backlog
    await publish_steps(amqp_url, keys, 50, start=50)  # meanwhile the queue fills up
    new = [await start(svc, cfg(after)), await start(svc, cfg(after))]
    try:
        await eventually(lambda: _all_applied(mongo, db_name, keys, 100), timeout=120)
        _in_order(await _steps(mongo, db_name), keys, 100)
        assert await _layout(mongo, db_name) == after
        names = [partition_queue(svc.name, i) for i in range(max(before, after))]
        for n in [f"{svc.name}.main", *names]:
            assert await queue_depth(amqp_url, n) == 0, n
        assert await inbox_count(mongo[db_name]) == len(keys) * 100
    finally:
        for rt in new:
            await rt.stop()
