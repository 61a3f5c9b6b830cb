"""The runtime against the real broker and database: idempotency, DLQ, retries, outbox."""

from __future__ import annotations

import json

import pytest

from runtime_support import (
    counter_service,
    drain_queue,
    event_body,
    eventually,
    listener_service,
    outbox_events,
    publish,
    queue_depth,
    settings_for,
    start,
)
from shared import failures as F
from shared.envelope import build
from shared.inbox import count as inbox_count

pytestmark = pytest.mark.integration


async def total(mongo, db, key):
    doc = await mongo[db]["counters"].find_one({"_id": key})
    return doc["total"] if doc else None


async def test_a_duplicate_delivery_has_one_effect(amqp_url, mongodb_url, mongo, db_name):
    svc = counter_service()
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name))
    try:
        eid, body = event_body("dup", 5)
        for _ in range(3):
            await publish(amqp_url, "wms.events", "thing.happened", body, message_id=eid)
        _, body2 = event_body("dup", 1)
        await publish(amqp_url, "wms.events", "thing.happened", body2)
        await eventually(lambda: _eq(total(mongo, db_name, "dup"), 6))
        await publish(amqp_url, "wms.events", "thing.happened", body, message_id=eid)
        await eventually(lambda: _outbox_sent(mongo, db_name, 2))
        assert await total(mongo, db_name, "dup") == 6
        assert await outbox_events(mongo[db_name]) == 2
    finally:
        await rt.stop()


async def test_a_crash_between_commit_and_ack_has_one_effect(
    amqp_url, mongodb_url, mongo, db_name, monkeypatch
):
    svc = counter_service()
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name))
    crashed = []
    settler = rt.consumer._acks
    ack = settler.ack  # called with a batch's messages once its transaction has committed

    async def crash_then_ack(messages) -> None:
        if not crashed:
            crashed.append(True)
            # the channel dies after the commit, before the ack: the broker redelivers
            await rt.consumer._channel.close()
        await ack(messages)

    monkeypatch.setattr(settler, "ack", crash_then_ack)
    try:
        _, body = event_body("crash", 7)
        await publish(amqp_url, "wms.events", "thing.happened", body)
        await eventually(lambda: _eq(total(mongo, db_name, "crash"), 7))

        async def acked_once() -> bool:  # the commit is seen before its ack is attempted
            return bool(crashed)

        await eventually(acked_once)
        monkeypatch.undo()
        await rt.consumer.stop(5)
        await rt.consumer.start()
        await eventually(lambda: _inbox_has(mongo, db_name, 1))
        await eventually(lambda: _depth_zero(amqp_url, svc.queue))
        assert crashed and await total(mongo, db_name, "crash") == 7
    finally:
        await rt.stop()


@pytest.mark.parametrize(
    ("body", "kind", "fragment"),
    [
        (b"{not json", "malformed", "not valid JSON"),
        (b'{"hello": "world"}', "not_cloudevent", "specversion"),
        (
            build("thing.unheard_of", {"key": "a"}, source="wms/x").to_json_bytes(),
            "unknown_type",
            "no handler for type 'thing.unheard_of'",
        ),
        (
            build("thing.happened", {"key": "", "n": -1}, source="wms/x").to_json_bytes(),
            "schema_invalid",
            "data.key" if False else "key",
        ),
    ],
    ids=["malformed", "not-cloudevent", "unknown-type", "schema-violation"],
)
async def test_invalid_messages_land_in_the_dlq_with_readable_headers_and_the_consumer_goes_on(
    amqp_url, mongodb_url, mongo, db_name, body, kind, fragment
):
    svc = counter_service()
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name))
    try:
        await publish(amqp_url, "wms.events", "thing.happened", body, message_id="bad-1")
        _, good = event_body("after-bad", 2)
        await publish(amqp_url, "wms.events", "thing.happened", good)
        await eventually(lambda: _eq(total(mongo, db_name, "after-bad"), 2))
        msgs = await eventually(lambda: drain_queue(amqp_url, f"{svc.name}.dlq"))
        assert len(msgs) == 1
        h = msgs[0].headers
        assert h[F.H_KIND] == kind
        assert fragment in h[F.H_EXC_MSG]
        assert h[F.H_SERVICE] == svc.name and h[F.H_QUEUE] == svc.queue
        assert h[F.H_ORIG_EXCHANGE] == "wms.events" and h[F.H_ORIG_KEY] == "thing.happened"
        assert h[F.H_ATTEMPTS] == 1 and h[F.H_FIRST] and h[F.H_LAST] and h[F.H_STACK]
        assert msgs[0].body == body
    finally:
        await rt.stop()


async def test_a_rejected_message_is_dead_lettered_at_once_and_saves_nothing(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = counter_service()
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name))
    try:
        _, body = event_body("reject-1", 3)
        await publish(amqp_url, "wms.events", "thing.happened", body)
        msgs = await eventually(lambda: drain_queue(amqp_url, f"{svc.name}.dlq"))
        assert msgs[0].headers[F.H_KIND] == "rejected"
        assert "no conversion for unit CS" in msgs[0].headers[F.H_EXC_MSG]
        assert await inbox_count(mongo[db_name]) == 0
    finally:
        await rt.stop()


async def test_one_bad_message_in_a_batch_does_not_block_or_roll_back_the_others(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = counter_service()
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name, batch_wait_ms=200))
    try:
        keys = ["ok-a", "boom-1", "ok-b", "ok-c"]
        for k in keys:
            _, b = event_body(k, 1)
            await publish(amqp_url, "wms.events", "thing.happened", b)
        for k in ("ok-a", "ok-b", "ok-c"):
            await eventually(lambda k=k: _eq(total(mongo, db_name, k), 1))
        assert await total(mongo, db_name, "boom-1") is None
    finally:
        await rt.stop()


async def test_a_message_that_keeps_failing_ends_in_the_dlq_after_the_configured_attempts(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = counter_service()
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name, max_attempts=3))
    try:
        _, body = event_body("boom-forever", 1)
        await publish(amqp_url, "wms.events", "thing.happened", body)
        msgs = await eventually(lambda: drain_queue(amqp_url, f"{svc.name}.dlq"), timeout=30)
        h = msgs[0].headers
        assert h[F.H_KIND] == "exhausted"
        assert h[F.H_ATTEMPTS] == 3
        assert h[F.H_EXC_TYPE] == "RuntimeError"
        assert h[F.H_ORIG_EXCHANGE] == "wms.events"
        assert json.loads(msgs[0].body)["data"]["key"] == "boom-forever"
    finally:
        await rt.stop()


async def test_outbox_events_reach_consumers_once_even_if_the_relay_dies_between_publish_and_mark(
    amqp_url, mongodb_url, mongo, db_name, monkeypatch
):
    svc = counter_service()
    listener = listener_service(svc)
    settings = settings_for(amqp_url, mongodb_url, db_name)
    lst_db = db_name + "_l"
    lrt = await start(listener, settings_for(amqp_url, mongodb_url, lst_db))
    rt = await start(svc, settings)
    died = []
    mark = rt.relay._mark  # records a drain's outcome once its events are published

    async def die_then_mark(*args) -> None:
        if not died:
            died.append(True)
            raise ConnectionError("relay process died after publishing, before marking")
        await mark(*args)

    monkeypatch.setattr(rt.relay, "_mark", die_then_mark)
    try:
        for i in range(5):
            _, b = event_body("once", i + 1)
            await publish(amqp_url, "wms.events", "thing.happened", b)
        await eventually(lambda: _eq(total(mongo, db_name, "once"), 15))
        await eventually(lambda: _outbox_sent(mongo, db_name, 5))
        seen = await eventually(lambda: _seen(mongo, lst_db, "once", 5))
        assert died
        assert sorted(seen["totals"]) == sorted(set(seen["totals"]))
    finally:
        await rt.stop()
        await lrt.stop()


async def _eq(coro, expected):
    return (await coro) == expected


async def _outbox_sent(mongo, db, n):
    return await outbox_events(mongo[db], sent=True) == n


async def _inbox_has(mongo, db, n):
    return await inbox_count(mongo[db]) == n


async def _depth_zero(url, queue):
    return await queue_depth(url, queue) == 0


async def _seen(mongo, db, key, count):
    doc = await mongo[db]["seen"].find_one({"_id": key})
    return doc if doc and doc["count"] == count else None


async def test_two_replicas_on_one_queue_end_with_the_same_totals_as_one(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = counter_service()
    s = settings_for(amqp_url, mongodb_url, db_name, batch_size=20)
    a, b = await start(svc, s), await start(svc, s)
    try:
        keys = [f"hot-{i}" for i in range(4)]
        for i in range(200):
            _, body = event_body(keys[i % 4], 1)
            await publish(amqp_url, "wms.events", "thing.happened", body)
        for k in keys:
            await eventually(lambda k=k: _eq(total(mongo, db_name, k), 50), timeout=60)
        await eventually(lambda: _outbox_sent(mongo, db_name, 200), timeout=30)
        assert await inbox_count(mongo[db_name]) == 200
    finally:
        await a.stop()
        await b.stop()


async def test_sigterm_style_shutdown_mid_stream_loses_and_doubles_nothing(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = counter_service()
    s = settings_for(amqp_url, mongodb_url, db_name, batch_size=10)
    rt = await start(svc, s)
    for _ in range(300):
        _, body = event_body("drain", 1)
        await publish(amqp_url, "wms.events", "thing.happened", body)
    await eventually(lambda: _inbox_at_least(mongo, db_name, 20))
    await rt.stop()  # stop consuming, finish the batch in hand, flush the outbox
    done = await inbox_count(mongo[db_name])
    assert await total(mongo, db_name, "drain") == done
    rt2 = await start(svc, s)
    try:
        await eventually(lambda: _eq(total(mongo, db_name, "drain"), 300), timeout=60)
        await eventually(lambda: _outbox_sent(mongo, db_name, 300), timeout=30)
    finally:
        await rt2.stop()


async def _inbox_at_least(mongo, db, n):
    return await inbox_count(mongo[db]) >= n


async def test_two_lanes_apply_every_message_once_and_ack_all_of_them_even_across_a_restart(
    amqp_url, mongodb_url, mongo, db_name
):
    svc = counter_service(preload=True)  # preload keys partition the lanes
    s = settings_for(amqp_url, mongodb_url, db_name, batch_size=10, lanes=2)
    rt = await start(svc, s)
    keys = [f"lane-{i}" for i in range(8)]
    for i in range(400):
        _, body = event_body(keys[i % 8], 1)
        await publish(amqp_url, "wms.events", "thing.happened", body)
        if i == 200:  # one invalid message in the stream: acked alone, dead-lettered
            await publish(amqp_url, "wms.events", "thing.happened", b'{"not": "a cloudevent"}')
    await eventually(lambda: _inbox_at_least(mongo, db_name, 100), timeout=30)
    await rt.stop()  # mid-stream: the lanes finish what they hold, the rest goes back
    rt2 = await start(svc, s)
    try:
        for k in keys:
            await eventually(lambda k=k: _eq(total(mongo, db_name, k), 50), timeout=60)
        await eventually(lambda: _depth_zero(amqp_url, f"{svc.name}.main"), timeout=30)
        assert await inbox_count(mongo[db_name]) == 400
        assert len(await drain_queue(amqp_url, f"{svc.name}.dlq")) == 1
    finally:
        await rt2.stop()
    assert await queue_depth(amqp_url, f"{svc.name}.main") == 0  # nothing left unacked
