"""Retention against the real broker and database: the purge deletes expired inbox ids and sent
outbox documents and keeps unsent ones and recent ids; a running service purges on its own; and
an event older than the deduplication horizon, a redelivery of a purged id included, goes to the
DLQ with its reason instead of being applied (again)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from runtime_support import (
    counter_service,
    drain_queue,
    eventually,
    publish,
    settings_for,
    start,
)
from shared import failures as F
from shared import inbox, outbox, retention
from shared.envelope import build
from shared.outbox import outbox_doc
from shared.settings import ServiceSettings
from shared.uow import PendingEvent

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


def pending(key: str) -> PendingEvent:
    ev = build("thing.counted", {"key": key, "total": 1}, source="rt/test")
    return PendingEvent("rt.events", key, ev)


async def test_the_purge_drops_expired_buckets_purges_the_legacy_inbox_and_keeps_the_rest(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    now = datetime.now(UTC)
    # the single inbox of an earlier release, as an upgrade finds it
    old = [
        {"_id": f"old-{i}", "type": "t", "time": now - 15 * DAY + timedelta(seconds=i), "at": now}
        for i in range(12)
    ]
    young = [
        {"_id": f"young-{i}", "type": "t", "time": now - 12 * DAY, "at": now} for i in range(3)
    ]
    await db[inbox.INBOX].insert_many([*old, *young, {"_id": "no-time", "type": "t", "at": now}])
    settings = ServiceSettings(retention_purge_chunk=5)
    box = inbox.Inbox.of(db, settings)
    await box.setup()
    await outbox.setup(db)
    # ids applied 18 days ago (their bucket has expired) and now
    for at, prefix in ((now - 18 * DAY, "gone"), (now, "kept")):
        entries = [(f"{prefix}-{i}", "t", at - timedelta(seconds=i), None) for i in range(4)]
        await box.prepare([e[2] for e in entries], at)
        await box.record(entries, at, None)
    docs = {
        "sent-8d": outbox_doc([pending("a")], now - 9 * DAY) | {"sent_at": now - 8 * DAY},
        "sent-1d": outbox_doc([pending("b")], now - 9 * DAY) | {"sent_at": now - DAY},
        "unsent": outbox_doc([pending("c")], now - 300 * DAY),
    }
    for name, doc in docs.items():
        await db[outbox.OUTBOX].insert_one(doc | {"_id": name})
    assert len(await inbox.collections(db)) == 3

    assert await retention.purge(db, "ret-int", settings) == {inbox.INBOX: 16, outbox.OUTBOX: 1}
    left = sorted([d["_id"] async for d in inbox.find(db, {}, {"_id": 1})])
    assert left == sorted(["no-time", *(d["_id"] for d in young), *(f"kept-{i}" for i in range(4))])
    assert await inbox.collections(db) == [inbox.INBOX, box.target(now, now)]
    assert sorted([d["_id"] async for d in db[outbox.OUTBOX].find({})]) == ["sent-1d", "unsent"]
    assert await retention.purge(db, "ret-int", settings) == {inbox.INBOX: 0, outbox.OUTBOX: 0}


async def test_an_id_is_recognised_in_an_older_bucket_under_its_own_time_or_a_new_one(
    amqp_url: str, mongodb_url: str, mongo: Any, db_name: str
) -> None:
    """A redelivery, or the same id resent with a new time (a file sent again through the
    ingress), lands in a later bucket than the first copy: the batch reads the older ones."""
    svc = counter_service()
    settings = settings_for(
        amqp_url,
        mongodb_url,
        db_name,
        inbox_retention_s=60,
        inbox_bucket_s=1,
        dedup_horizon_margin_s=1,
    )
    rt = await start(svc, settings)
    try:
        ev = build("thing.happened", {"key": "k", "n": 5}, source="wms/test")
        await publish(
            amqp_url, "wms.events", "thing.happened", ev.to_json_bytes(), message_id=ev.id
        )
        await eventually(lambda: _is(counter(mongo, db_name, "k"), 5))
        first = await inbox.collections(mongo[db_name])
        await asyncio.sleep(2.2)  # two buckets on
        later = build(
            "thing.happened", {"key": "k", "n": 5}, source="wms/test", id=ev.id
        )  # same id, a time two seconds later
        assert later.time > ev.time
        for body in (ev.to_json_bytes(), later.to_json_bytes()):
            await publish(amqp_url, "wms.events", "thing.happened", body, message_id=ev.id)
        marker = build("thing.happened", {"key": "marker", "n": 1}, source="wms/test")
        await publish(
            amqp_url, "wms.events", "thing.happened", marker.to_json_bytes(), message_id=marker.id
        )
        await eventually(lambda: _is(counter(mongo, db_name, "marker"), 1))
        assert await counter(mongo, db_name, "k") == 5  # neither copy applied again
        assert await inbox.count(mongo[db_name], {"_id": ev.id}) == 1
        assert await inbox.collections(mongo[db_name]) != first  # it did change bucket
    finally:
        await rt.stop()


async def counter(mongo: Any, db: str, key: str) -> int | None:
    doc = await mongo[db]["counters"].find_one({"_id": key})
    return doc["total"] if doc else None


def purged(service: str, collection: str) -> float:
    v = REGISTRY.get_sample_value(
        "distsync_retention_deleted_total", {"service": service, "collection": collection}
    )
    return v or 0.0


async def test_a_running_service_purges_and_dead_letters_what_its_inbox_no_longer_remembers(
    amqp_url: str, mongodb_url: str, mongo: Any, db_name: str
) -> None:
    svc = counter_service()
    settings = settings_for(
        amqp_url,
        mongodb_url,
        db_name,
        inbox_retention_s=5,  # a horizon of 4 s: ids are purged 5 s after their event time
        dedup_horizon_margin_s=1,
        outbox_retention_s=1,
        retention_purge_interval_s=0.2,
    )
    rt = await start(svc, settings)
    db = mongo[db_name]
    try:
        ev = build("thing.happened", {"key": "kept", "n": 5}, source="wms/test")
        body = ev.to_json_bytes()
        await publish(amqp_url, "wms.events", "thing.happened", body, message_id=ev.id)
        await eventually(lambda: _is(counter(mongo, db_name, "kept"), 5))
        assert await inbox.count(db, {"_id": ev.id}) == 1

        async def forgotten() -> bool:
            gone = await inbox.count(db) == 0
            return gone and await db[outbox.OUTBOX].count_documents({}) == 0

        await eventually(forgotten, timeout=20)  # the service's own periodic purge
        assert purged(svc.name, inbox.INBOX) >= 1 and purged(svc.name, outbox.OUTBOX) >= 1

        # the same event again, once its id is forgotten: refused, not applied a second time
        await publish(amqp_url, "wms.events", "thing.happened", body, message_id=ev.id)
        stale = build(
            "thing.happened",
            {"key": "stale", "n": 1},
            source="wms/test",
            time=datetime.now(UTC) - timedelta(seconds=30),
        )
        await publish(
            amqp_url, "wms.events", "thing.happened", stale.to_json_bytes(), message_id=stale.id
        )
        fresh = build("thing.happened", {"key": "fresh", "n": 2}, source="wms/test")
        await publish(
            amqp_url, "wms.events", "thing.happened", fresh.to_json_bytes(), message_id=fresh.id
        )
        await eventually(lambda: _is(counter(mongo, db_name, "fresh"), 2))

        dead: list[Any] = []

        async def both_dead() -> bool:
            dead.extend(await drain_queue(amqp_url, f"{svc.name}.dlq"))
            return len(dead) >= 2

        await eventually(both_dead)
        assert sorted(m.message_id or "" for m in dead) == sorted([ev.id, stale.id])
        for m in dead:
            assert m.headers[F.H_KIND] == "beyond_dedup_horizon"
            assert "applied ids are kept only that long" in str(m.headers[F.H_EXC_MSG])
        assert await counter(mongo, db_name, "kept") == 5
        assert await counter(mongo, db_name, "stale") is None
    finally:
        await rt.stop()


async def _is(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
