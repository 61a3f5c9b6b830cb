"""Dead-letter operations against the real broker and database, with real services running:
failures land in the right DLQ, `list` groups them, replay of a fixed cause applies each
message exactly once, and a replay killed midway loses nothing."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from distsync_ops import dlq as D
from runtime_support import (
    ThingHappened,
    counter_service,
    event_body,
    eventually,
    publish,
    queue_depth,
    settings_for,
    start,
)
from shared.envelope import build
from shared.errors import Rejected
from shared.inbox import count as inbox_count
from shared.service import Incoming, Route, ServiceDefinition
from shared.topology import declare, full_topology
from shared.uow import UnitOfWork
from tools.ops.tests.dlq_support import dlq_env, dlq_settings, finish
from tools.ops.tests.dlq_support import start as start_process

pytestmark = pytest.mark.integration

FIXED: set[str] = set()  # services whose "bug" has been fixed


async def handle_until_fixed(msg: Incoming[ThingHappened], uow: UnitOfWork) -> None:
    """Refuses every event until its service is in FIXED; then counts it, remembering ids."""
    service = msg.data.key.split("/", 1)[0]
    if service not in FIXED:
        raise Rejected(f"no conversion for unit CS ({msg.data.key})")
    doc = await uow.get("counters", msg.data.key) or {"total": 0, "ids": []}
    doc["total"] += msg.data.n
    doc["ids"].append(msg.id)
    uow.put("counters", msg.data.key, doc)


def fixable_service() -> ServiceDefinition:
    return ServiceDefinition(
        name=f"dlqt-{uuid.uuid4().hex[:8]}",
        routes=(Route("thing.happened", ThingHappened, handle_until_fixed, ("wms.events",)),),
    )


async def depth_is(url: str, queue: str, n: int) -> bool:
    return await queue_depth(url, queue) == n


async def applied(mongo: Any, db: str) -> dict[str, dict[str, Any]]:
    return {d["_id"]: d async for d in mongo[db]["counters"].find({})}


async def publish_events(url: str, svc: ServiceDefinition, n: int) -> dict[str, str]:
    """n events with keys `<service>/<i>` and n = i + 1; returns key -> event id."""
    ids = {}
    for i in range(n):
        key = f"{svc.name}/{i}"
        eid, body = event_body(key, i + 1)
        ids[key] = eid
        await publish(url, "wms.events", "thing.happened", body, message_id=eid)
    return ids


def assert_each_applied_once(docs: dict[str, dict[str, Any]], ids: dict[str, str]) -> None:
    assert set(docs) == set(ids)
    for i, (key, eid) in enumerate(sorted(ids.items(), key=lambda kv: int(kv[0].split("/")[1]))):
        assert docs[key]["ids"] == [eid], f"{key} applied {len(docs[key]['ids'])} times"
        assert docs[key]["total"] == int(key.split("/")[1]) + 1
    del i


async def test_malformed_invalid_and_failing_messages_land_in_the_dlq_of_the_service_that_failed(
    amqp_url, mongodb_url, mongo, db_name
):
    fixable, counter = fixable_service(), counter_service()
    rt_a = await start(fixable, settings_for(amqp_url, mongodb_url, db_name, max_attempts=2))
    rt_b = await start(counter, settings_for(amqp_url, mongodb_url, db_name + "_b", max_attempts=2))
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    try:
        await publish(amqp_url, "wms.events", "thing.happened", b"{not json", message_id="m-1")
        bad = build("thing.happened", {"key": "", "n": -1}, source="wms/x").to_json_bytes()
        await publish(amqp_url, "wms.events", "thing.happened", bad)
        _, boom = event_body("boom-forever", 1)  # fixable refuses it; counter's handler crashes
        await publish(amqp_url, "wms.events", "thing.happened", boom)
        _, only_a = event_body(f"{fixable.name}/only-a", 1)  # fixable refuses; counter applies
        await publish(amqp_url, "wms.events", "thing.happened", only_a)

        await eventually(lambda: depth_is(amqp_url, D.queue_of(fixable.name), 4), timeout=30)
        await eventually(lambda: depth_is(amqp_url, D.queue_of(counter.name), 3), timeout=30)
        [a, b] = await D.list_queues(s, [fixable.name, counter.name])

        def groups(q: D.QueueSummary) -> dict[str, int]:
            return {g.exception_type: g.count for g in q.groups}

        assert groups(a) == {"EnvelopeError": 1, "SchemaInvalid": 1, "Rejected": 2}
        assert groups(b) == {"EnvelopeError": 1, "SchemaInvalid": 1, "RuntimeError": 1}
        assert a.depth == a.scanned == 4 and b.depth == 3
        assert a.oldest is not None and a.newest is not None and a.oldest <= a.newest
        [g_boom] = [g for g in b.groups if g.exception_type == "RuntimeError"]
        assert g_boom.event_type == "thing.happened" and g_boom.service == counter.name
        assert "handler bug" in (g_boom.example or "")
        shown = await D.show(s, counter.name, selector=D.Selector(groups=(g_boom.id,)))
        assert [m.attempts for m in shown] == [2]
        assert shown[0].headers["failure-kind"] == "exhausted"
        assert await queue_depth(amqp_url, D.queue_of(counter.name)) == 3  # still there
    finally:
        await rt_a.stop()
        await rt_b.stop()


@contextlib.asynccontextmanager
async def refused(
    amqp_url: str, mongodb_url: str, db_name: str, n: int
) -> AsyncIterator[tuple[ServiceDefinition, dict[str, str]]]:
    """A running service that refuses every event until it is fixed, with n events refused
    and in its DLQ; yields the service and the events' ids by key."""
    svc = fixable_service()
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name))
    try:
        ids = await publish_events(amqp_url, svc, n)
        await eventually(lambda: depth_is(amqp_url, D.queue_of(svc.name), n), timeout=30)
        yield svc, ids
    finally:
        await rt.stop()


async def test_replaying_a_fixed_cause_drains_the_dlq_and_each_message_is_applied_exactly_once(
    amqp_url, mongodb_url, mongo, db_name
):
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    async with refused(amqp_url, mongodb_url, db_name, 20) as (svc, ids):
        dlq = D.queue_of(svc.name)
        [summary] = await D.list_queues(s, [svc.name])
        [group] = summary.groups
        assert (group.exception_type, group.count) == ("Rejected", 20)

        FIXED.add(svc.name)
        o = await D.replay(
            s, svc.name, D.Selector(groups=(group.id,)), D.ReplayOptions(), user="amy"
        )
        assert (o.matched, o.done, o.failed) == (20, 20, 0)
        await eventually(lambda: _count(mongo, db_name, 20))
        await eventually(lambda: depth_is(amqp_url, dlq, 0))
        assert_each_applied_once(await applied(mongo, db_name), ids)
        assert await inbox_count(mongo[db_name]) == 20

        again = await D.replay(s, svc.name, D.Selector(), D.ReplayOptions())
        assert again.matched == 0
        [entry, *_] = await D.audit_log(s, 10, svc.name)
        assert entry["action"] == "replay" and entry["status"] == "done"
        [first] = [e for e in await D.audit_log(s, 10, svc.name) if e["user"] == "amy"]
        assert first["done"] == 20 and first["selector"] == {"groups": [group.id]}


async def test_a_replay_cancelled_midway_loses_nothing_and_the_rest_replays_exactly_once(
    amqp_url, mongodb_url, mongo, db_name
):
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    async with refused(amqp_url, mongodb_url, db_name, 30) as (svc, ids):
        dlq = D.queue_of(svc.name)
        FIXED.add(svc.name)

        first = D.Outcome("replay", "", {}, "")
        task = asyncio.create_task(
            D.replay(s, svc.name, D.Selector(), D.ReplayOptions(rate=25), outcome=first)
        )
        await eventually(lambda: _ready(first.done >= 6))
        task.cancel()  # what Ctrl-C does
        with pytest.raises(asyncio.CancelledError):
            await task
        assert first.cancelled and 6 <= first.done < 30
        await eventually(lambda: depth_is(amqp_url, dlq, 30 - first.done))
        await eventually(lambda: _count(mongo, db_name, first.done))

        second = await D.replay(s, svc.name, D.Selector(), D.ReplayOptions())
        assert second.done == 30 - first.done
        await eventually(lambda: _count(mongo, db_name, 30))
        await eventually(lambda: depth_is(amqp_url, dlq, 0))
        assert_each_applied_once(await applied(mongo, db_name), ids)
        statuses = [e["status"] for e in await D.audit_log(s, 10, svc.name)]
        assert statuses == ["done", "cancelled"]


# `distsync dlq replay` in a process that dies (os._exit) right after the broker confirmed its
# fifth publish, before that message is acked from the DLQ; prints each confirmed message's id
DIES_AFTER_THE_FIFTH_CONFIRM = """
import os, sys
from distsync_ops.dlq.broker import Broker
from shared.cli import main

confirmed_publish_many = Broker.publish_many
confirmed = []

async def publish_many(self, items):
    answers = []
    for item in items:
        [refused] = await confirmed_publish_many(self, [item])
        answers.append(refused)
        if refused is None:
            confirmed.append(item[3].message_id)
            print(item[3].message_id, flush=True)
            if len(confirmed) == 5:
                os._exit(70)
    return answers

Broker.publish_many = publish_many
sys.exit(main(["dlq", "replay", sys.argv[1], "--yes"]))
"""


async def test_a_crash_between_publish_and_ack_duplicates_at_worst_and_the_inbox_absorbs_it(
    amqp_url, mongodb_url, mongo, db_name
):
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    # one publish at a time: the process dies after exactly five
    env = dlq_env(amqp_url, mongodb_url, db_name, DISTSYNC_DLQ_INFLIGHT="1")
    async with refused(amqp_url, mongodb_url, db_name, 12) as (svc, ids):
        dlq = D.queue_of(svc.name)
        FIXED.add(svc.name)
        replay = start_process(
            sys.executable, "-c", DIES_AFTER_THE_FIFTH_CONFIRM, svc.name, env=env
        )
        code, out, err = await finish(await replay)
        assert code == 70, err
        published = out.split()
        assert published == list(ids.values())[:5]
        # 4 replayed and removed; the 5th replayed AND still in the DLQ; 7 untouched
        await eventually(lambda: depth_is(amqp_url, dlq, 8))
        await eventually(lambda: _count(mongo, db_name, 5))
        left = await D.show(s, svc.name, limit=20)
        assert published[4] in {m.event_id for m in left}

        o = await D.replay(s, svc.name, D.Selector(), D.ReplayOptions())
        assert o.done == 8
        await eventually(lambda: depth_is(amqp_url, dlq, 0))
        await eventually(lambda: _inbox(mongo, db_name, 12))
        assert_each_applied_once(await applied(mongo, db_name), ids)
        [latest, crashed] = (await D.audit_log(s, 10, svc.name))[:2]
        assert latest["status"] == "done"
        assert crashed["status"] == "running"  # the process died before it could say more


async def test_unrouted_messages_are_listed_and_replayed_once_someone_is_bound_for_them(
    amqp_url, mongodb_url, mongo, db_name
):
    import aio_pika

    svc = counter_service()
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    kind = f"thing.unheard.{uuid.uuid4().hex[:6]}"
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        await declare(ch, full_topology([svc]))
        before = await queue_depth(amqp_url, D.UNROUTED)
        for i in range(3):
            ev = build(kind, {"i": i}, source="erp/x")
            await publish(amqp_url, "erp.events", kind, ev.to_json_bytes(), message_id=ev.id)
        await eventually(lambda: depth_is(amqp_url, D.UNROUTED, before + 3))
        [q] = await D.list_queues(s, [D.UNROUTED])
        [g] = [g for g in q.groups if g.event_type == kind]
        assert (g.exception_type, g.service, g.count) == ("Unrouted", "unrouted", 3)
        [m, *_] = await D.show(s, D.UNROUTED, selector=D.Selector(types=(kind,)))
        assert (m.original_exchange, m.original_routing_key) == ("erp.events", kind)
        renewing = dlq_settings(amqp_url, mongodb_url, db_name, dlq_renew_at=2)
        for _ in range(3):  # renewed on the way: back in through the default exchange
            await D.show(renewing, D.UNROUTED)
        purged = await D.archive(s, D.UNROUTED, D.Selector(types=(kind,)), purge=True)
        await D.restore(s, purged.archive_id or "")
        shown = await D.show(s, D.UNROUTED, selector=D.Selector(types=(kind,)))
        assert {(m.original_exchange, m.original_routing_key) for m in shown} == {
            ("erp.events", kind)
        }

        sink = await ch.declare_queue(f"sink-{kind}")
        await sink.bind("erp.events", routing_key=kind)
        o = await D.replay(s, D.UNROUTED, D.Selector(types=(kind,)), D.ReplayOptions())
        assert (o.matched, o.done) == (3, 3)
        await eventually(lambda: depth_is(amqp_url, f"sink-{kind}", 3))
        assert await queue_depth(amqp_url, D.UNROUTED) == before
        await sink.delete(if_unused=False, if_empty=False)
    finally:
        await conn.close()


async def _count(mongo: Any, db: str, n: int) -> bool:
    docs = await applied(mongo, db)
    return sum(len(d["ids"]) for d in docs.values()) == n


async def _inbox(mongo: Any, db: str, n: int) -> bool:
    return await inbox_count(mongo[db]) == n


async def _ready(value: bool) -> bool:
    return value
