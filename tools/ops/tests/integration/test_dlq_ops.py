"""DLQ operations on seeded queues: reading leaves messages in place and in order, purge then
restore round-trips byte for byte, the rate limit holds, replays are marked and flagged,
unroutable replays stay in the DLQ, selectors leave the others where they were."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aio_pika
import pytest

from distsync_ops import dlq as D
from runtime_support import drain_queue, queue_depth
from shared import failures as F
from tools.ops.tests.dlq_support import dlq_settings, failed_headers, ids_in, seed, sink

pytestmark = pytest.mark.integration


async def test_show_and_list_leave_every_message_in_place_and_in_order(
    amqp_url, mongodb_url, db_name
):
    service, ids = await seed(amqp_url, 40)
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    first = await D.show(s, service, limit=5)
    assert [m.event_id for m in first] == ids[:5]
    assert [m.position for m in first] == [1, 2, 3, 4, 5]
    again = await D.show(s, service, limit=5)
    assert [m.event_id for m in again] == ids[:5]
    [summary] = await D.list_queues(s, [service])
    assert summary.depth == summary.scanned == 40
    assert (
        await D.show(s, service, limit=100) and await queue_depth(amqp_url, f"{service}.dlq") == 40
    )
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_messages_read_too_often_are_renewed_at_the_tail_in_order_and_never_dropped(
    amqp_url, mongodb_url, db_name
):
    service, ids = await seed(amqp_url, 10)
    s = dlq_settings(amqp_url, mongodb_url, db_name, dlq_renew_at=3)
    for _ in range(5):
        shown = await D.show(s, service, limit=10)
        assert [m.event_id for m in shown] == ids
        assert max(m.returns for m in shown) < 3
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_purge_then_restore_round_trips_body_headers_and_properties_byte_for_byte(
    amqp_url, mongodb_url, db_name, tmp_path
):
    service, _ = await seed(amqp_url, 3)
    queue = D.queue_of(service)
    odd_headers = {
        "text": "héllo",
        "int": 7,
        "big": 2**40,
        "neg": -3,
        "float": 1.5,
        "flag": True,
        "raw": bytearray(b"\xff\x00\x01"),
        "when": datetime(2026, 11, 27, 3, 0, 1, tzinfo=UTC),
        "dec": Decimal("12.50"),
        "list": [1, "a", False],
        "table": {"k": "v", "n": 2},
        "none": None,
    }
    async with D.Broker(amqp_url) as b:  # aio-pika would invent a message_id: go below it
        props = D.PropertiesWithoutId(headers=D.amqp_safe(odd_headers))
        await b.publish("", queue, b"{not json at all \xff", props)
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        await ch.default_exchange.publish(
            aio_pika.Message(
                b'{"specversion":"1.0"}',
                headers=odd_headers,
                message_id="odd-1",
                correlation_id="ORD-1",
                content_type="application/json",
                content_encoding="utf-8",
                priority=3,
                reply_to="nobody",
                app_id="edi-gw",
                type="weird.type",
                timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                delivery_mode=2,
            ),
            routing_key=queue,
        )
    finally:
        await conn.close()
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    before = await D.show(s, service, limit=100)
    assert len(before) == 5

    path = str(tmp_path / "purged.jsonl")
    o = await D.archive(s, service, D.Selector(), purge=True, file=path, user="ops")
    assert (o.matched, o.done, o.failed) == (5, 5, 0) and o.archive_id
    assert await queue_depth(amqp_url, queue) == 0
    assert len(open(path).read().splitlines()) == 5

    r = await D.restore(s, o.archive_id, user="ops")
    assert (r.done, r.failed) == (5, 0)
    after = await D.show(s, service, limit=100)
    assert [_exact(m) for m in after] == [_exact(m) for m in before]
    assert before[3].properties.get("message_id") is None
    assert after[3].properties.get("message_id") is None  # not invented on the way back
    with pytest.raises(D.NothingToDo):
        await D.restore(s, o.archive_id)

    o2 = await D.archive(s, service, D.Selector(), purge=True, file=path + "2", use_db=False)
    assert o2.done == 5 and await queue_depth(amqp_url, queue) == 0
    r2 = await D.restore(s, path + "2")
    assert r2.done == 5
    assert [_exact(m) for m in await D.show(s, service, limit=100)] == [_exact(m) for m in before]
    audit = [(e["action"], e["status"], e["done"]) for e in await D.audit_log(s, 10, None)]
    assert audit[:4] == [("restore", "done", 5), ("purge", "done", 5)] * 2


def _exact(m: D.DeadLetter) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    headers = {k: v for k, v in m.headers.items() if k not in D.BROKER_COUNTERS}
    return m.body, m.properties, headers


async def test_archive_without_purge_leaves_the_messages_and_export_writes_jsonl(
    amqp_url, mongodb_url, db_name, tmp_path
):
    import io

    service, ids = await seed(amqp_url, 6)
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    o = await D.archive(s, service, D.Selector(ids=tuple(ids[1:3])), purge=False)
    assert (o.matched, o.done) == (2, 2)
    buf = io.StringIO()
    e = await D.export(s, service, D.Selector(), buf)
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert e.done == 6 and [x["event_id"] for x in lines] == ids
    assert (
        lines[0]["event"]["type"] == "thing.happened" and lines[0]["exception_type"] == "Rejected"
    )
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_the_rate_limit_holds(amqp_url, mongodb_url, db_name):
    n, rate = 12, 8.0
    service, _ = await seed(amqp_url, n)
    await sink(amqp_url, f"{service}.sink", exchange=f"{service}.replays")
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    o = await D.replay(
        s, service, D.Selector(), D.ReplayOptions(to=f"{service}.replays", rate=rate)
    )
    assert o.done == n
    assert o.elapsed_s >= (n - 1) / rate * 0.9
    replayed = await drain_queue(amqp_url, f"{service}.sink")
    stamps = sorted(D.parse_time(str(m.headers[F.H_REPLAYED_AT])) for m in replayed)
    assert len(stamps) == n
    assert (stamps[-1] - stamps[0]).total_seconds() >= (n - 1) / rate * 0.9


async def test_a_replayed_message_is_marked_gets_its_retries_back_and_too_many_replays_flag_it(
    amqp_url, mongodb_url, db_name
):
    service, ids = await seed(amqp_url, 2)
    await sink(amqp_url, f"{service}.sink", exchange=f"{service}.replays")
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    to = f"{service}.replays"
    o = await D.replay(s, service, D.Selector(ids=(ids[0],)), D.ReplayOptions(to=to), user="bob")
    assert o.done == 1
    [m] = await drain_queue(amqp_url, f"{service}.sink")
    h = m.headers
    assert h[F.H_REPLAY_COUNT] == 1 and h[F.H_REPLAYED_BY] == "bob" and h[F.H_REPLAYED_AT]
    assert h[F.H_ATTEMPTS] == 0 and h[D.H_PREV_ATTEMPTS] == 1
    assert h[F.H_ORIG_EXCHANGE] == "wms.events" and h[F.H_EXC_TYPE] == "Rejected"
    assert m.message_id == ids[0] and m.routing_key == "thing.happened"

    conn = await aio_pika.connect(amqp_url)  # a message replayed three times already
    try:
        ch = await conn.channel(publisher_confirms=True)
        headers = failed_headers(service, **{F.H_REPLAY_COUNT: 3})
        await ch.default_exchange.publish(
            aio_pika.Message(b"{}", headers=headers, message_id="tired"),
            routing_key=f"{service}.dlq",
        )
    finally:
        await conn.close()
    [summary] = await D.list_queues(s, [service])
    assert summary.flagged == 1 and summary.depth == 2
    shown = {m.event_id: m.summary(s.dlq_flag_replays) for m in await D.show(s, service)}
    assert shown["tired"]["flagged"] and not shown[ids[1]]["flagged"]
    o = await D.replay(s, service, D.Selector(), D.ReplayOptions(to=to))
    assert (o.done, o.skipped_flagged) == (1, 1)
    assert await ids_in(amqp_url, f"{service}.sink") == [ids[1]]
    o = await D.replay(s, service, D.Selector(), D.ReplayOptions(to=to, force=True))
    assert o.done == 1
    [m] = await drain_queue(amqp_url, f"{service}.sink")
    assert m.headers[F.H_REPLAY_COUNT] == 4


async def test_an_unroutable_replay_is_an_error_and_the_message_stays_in_the_dlq(
    amqp_url, mongodb_url, db_name
):
    service, ids = await seed(amqp_url, 3)
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        await ch.declare_exchange(f"{service}.void", aio_pika.ExchangeType.TOPIC, durable=True)
    finally:
        await conn.close()
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    o = await D.replay(s, service, D.Selector(), D.ReplayOptions(to=f"{service}.void"))
    assert (o.done, o.failed) == (0, 3) and "unroutable" in o.errors[0]
    o = await D.replay(s, service, D.Selector(), D.ReplayOptions(to=f"{service}.missing"))
    assert (o.done, o.failed) == (0, 3) and "does not exist" in o.errors[0]
    [entry, *_] = await D.audit_log(s, 5, service)
    assert entry["status"] == "partial" and entry["failed"] == 3
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_selectors_pick_by_type_time_and_id_and_the_rest_stay_in_order(
    amqp_url, mongodb_url, db_name
):
    service, ids = await seed(amqp_url, 8)
    await sink(amqp_url, f"{service}.sink", exchange=f"{service}.replays")
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    to = D.ReplayOptions(to=f"{service}.replays")
    dry = await D.replay(
        s, service, D.Selector(ids=(ids[2], ids[5])), D.ReplayOptions(dry_run=True)
    )
    assert (dry.matched, dry.done) == (2, 0)
    assert dict(dry.plan) == {"wms.events -> thing.happened": 2}
    o = await D.replay(s, service, D.Selector(ids=(ids[2], ids[5])), to)
    assert o.done == 2
    future = datetime.now(UTC) + timedelta(hours=1)
    o = await D.replay(s, service, D.Selector(since=future), to)
    assert o.matched == 0
    o = await D.replay(s, service, D.Selector(types=("other.*",)), to)
    assert o.matched == 0
    o = await D.replay(s, service, D.Selector(types=("thing.*",), limit=2), to)
    assert o.done == 2
    assert await ids_in(amqp_url, f"{service}.sink") == [ids[2], ids[5], ids[0], ids[1]]
    assert await ids_in(amqp_url, f"{service}.dlq") == [ids[3], ids[4], ids[6], ids[7]]


async def test_a_selective_replay_bigger_than_the_window_loses_nothing(
    amqp_url, mongodb_url, db_name
):
    service, ids = await seed(amqp_url, 60)
    await sink(amqp_url, f"{service}.sink", exchange=f"{service}.replays")
    s = dlq_settings(amqp_url, mongodb_url, db_name, dlq_window=30, dlq_inflight=5)
    wanted = tuple(ids[50:])
    o = await D.replay(s, service, D.Selector(ids=wanted), D.ReplayOptions(to=f"{service}.replays"))
    assert o.done == 10 and o.renewed > 0
    assert await ids_in(amqp_url, f"{service}.sink") == list(wanted)
    assert sorted(await ids_in(amqp_url, f"{service}.dlq")) == sorted(ids[:50])


async def test_two_commands_on_one_queue_take_turns_instead_of_seeing_half_each(
    amqp_url, mongodb_url, db_name
):
    service, ids = await seed(amqp_url, 30)
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    a, b = await asyncio.gather(D.show(s, service, limit=30), D.show(s, service, limit=30))
    assert [m.event_id for m in a] == ids == [m.event_id for m in b]
    impatient = dlq_settings(amqp_url, mongodb_url, db_name, dlq_lock_wait_s=0.3)
    async with D.Broker(amqp_url) as broker, D.scanning(broker, f"{service}.dlq", s):
        with pytest.raises(D.DlqError, match="another dlq command"):
            await D.show(impatient, service)
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_copies_with_the_same_id_are_each_confirmed_or_returned_on_their_own(
    amqp_url, mongodb_url, db_name
):
    service, ids = await seed(amqp_url, 4)
    conn = await aio_pika.connect(amqp_url)
    try:  # the same event dead-lettered twice more: three copies share one message_id
        ch = await conn.channel(publisher_confirms=True)
        for _ in range(2):
            await ch.default_exchange.publish(
                aio_pika.Message(b"{}", headers=failed_headers(service), message_id=ids[1]),
                routing_key=f"{service}.dlq",
            )
        await ch.declare_exchange(f"{service}.void", aio_pika.ExchangeType.TOPIC, durable=True)
    finally:
        await conn.close()
    await sink(amqp_url, f"{service}.sink", exchange=f"{service}.replays")
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    o = await D.replay(s, service, D.Selector(), D.ReplayOptions(to=f"{service}.void"))
    assert (o.done, o.failed) == (0, 6)
    assert await queue_depth(amqp_url, f"{service}.dlq") == 6
    o = await D.replay(s, service, D.Selector(), D.ReplayOptions(to=f"{service}.replays"))
    assert (o.done, o.failed) == (6, 0)
    assert sorted(await ids_in(amqp_url, f"{service}.sink")) == sorted([*ids, ids[1], ids[1]])
