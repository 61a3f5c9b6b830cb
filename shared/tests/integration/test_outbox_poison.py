"""One event the broker cannot take never stops a service's outbox: it is moved aside (recorded
on its document, dead-lettered to the service's DLQ with its reason, counted) and everything
else, later events of the same aggregate included, keeps flowing; the relay itself never dies
and says when it is stuck."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from bson import Binary
from prometheus_client import REGISTRY
from pydantic import BaseModel, ConfigDict, Field

from runtime_support import drain_queue, eventually, publish, settings_for, start
from shared import failures as F
from shared import outbox
from shared.envelope import CloudEvent, build, new_id
from shared.errors import PublishNacked
from shared.messaging import Outgoing, Publisher, connect
from shared.outbox import OUTBOX, OutboxRelay, outbox_doc
from shared.service import Incoming, Publication, Route, ServiceDefinition
from shared.topology import declare, dlq, dlx, service_topology
from shared.uow import PendingEvent, UnitOfWork

pytestmark = pytest.mark.integration

TYPE = "thing.changed"


class Changed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1)
    i: int = Field(ge=0)


def definition(name: str) -> ServiceDefinition:
    return ServiceDefinition(name=name, routes=(), publishes=(Publication(TYPE, Changed),))


def event(
    svc: str,
    key: str,
    i: int,
    *,
    id: str | None = None,
    time: datetime | None = None,
    correlationid: str | None = None,
) -> PendingEvent:
    """An outbox event built without the envelope's checks, as an old document or a future bug
    could hold it."""
    ev = CloudEvent.model_construct(
        specversion="1.0",
        id=id or new_id(),
        source=f"{svc}/test",
        type=TYPE,
        time=time or datetime.now(UTC).replace(microsecond=0),
        datacontenttype="application/json",
        correlationid=correlationid,
        causationid=None,
        subject=None,
        data={"key": key, "i": i},
    )
    return PendingEvent(f"{svc}.events", key, ev)


async def store(db: Any, *batches: list[PendingEvent]) -> None:
    for b in batches:
        await db[OUTBOX].insert_one(outbox_doc(b, datetime.now(UTC)))


async def declare_service(url: str, name: str) -> str:
    """The service's topology, and a queue that receives everything it publishes."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        await declare(ch, service_topology(definition(name)))
        q = await ch.declare_queue(f"{name}.listener", durable=True)
        await q.bind(f"{name}.events", "#")
    finally:
        await conn.close()
    return f"{name}.listener"


async def collect(url: str, queue: str, n: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    got: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def enough() -> bool:
        got.extend(await drain_queue(url, queue))
        return len(got) >= n

    await eventually(enough, timeout=20)
    return got


async def unsent(db: Any) -> int:
    return int(await db[OUTBOX].count_documents({"sent_at": None}))


def moved_aside(service: str) -> float:
    v = REGISTRY.get_sample_value("distsync_outbox_events_moved_aside_total", {"service": service})
    return float(v or 0.0)


async def test_an_event_the_broker_cannot_take_is_moved_aside_and_the_rest_keep_flowing(
    amqp_url: str, mongo: Any, db_name: str
) -> None:
    name = f"poison-{uuid.uuid4().hex[:8]}"
    listener = await declare_service(amqp_url, name)
    db = mongo[db_name]
    await outbox.setup(db)
    a1, b1, a3, b2 = (
        event(name, "A", 1),
        event(name, "B", 1),
        event(name, "A", 3),
        event(name, "B", 2),
    )
    poison = event(name, "A", 2, id="é" * 200)  # 400 bytes: no AMQP message_id holds it
    old = event(name, "C", 1, time=datetime(1960, 5, 1, tzinfo=UTC), correlationid="o" * 300)
    await store(db, [a1, b1], [poison], [a3, old], [b2])
    conn = await connect(amqp_url, "test-outbox-poison")
    pub = Publisher(conn, name)
    relay = OutboxRelay(name, db, pub, poll_s=0.05)
    relay.start()
    try:
        got = await collect(amqp_url, listener, 5)
        ids = [m.message_id for m in got]
        assert sorted(ids) == sorted(e.event.id for e in (a1, b1, a3, old, b2))
        assert ids.index(a1.event.id) < ids.index(a3.event.id)  # the aggregate still in order
        # the one AMQP cannot hold the time and correlation id of goes out without them
        m_old = got[ids.index(old.event.id)]
        assert m_old.timestamp is None and m_old.correlation_id is None
        body = json.loads(m_old.body)
        assert body["time"].startswith("1960-05-01") and body["correlationid"] == "o" * 300
        assert got[ids.index(a1.event.id)].timestamp is not None

        dead = await collect(amqp_url, dlq(name), 1)
        assert len(dead) == 1
        h = dead[0].headers or {}
        assert h[F.H_KIND] == "unpublishable"
        assert "255 bytes" in str(h[F.H_EXC_MSG])
        assert h[F.H_ORIG_EXCHANGE] == f"{name}.events" and h[F.H_ORIG_KEY] == TYPE
        assert h[F.H_TYPE] == TYPE and h[F.H_SERVICE] == name and h[F.H_QUEUE] == OUTBOX
        assert json.loads(dead[0].body)["id"] == poison.event.id

        await eventually(lambda: _equals(unsent(db), 0))
        doc = await db[OUTBOX].find_one({"_id": poison.event.id})
        assert doc is not None and doc["sent_at"] is not None
        [record] = doc["poisoned"]
        assert record["id"] == poison.event.id and "255 bytes" in record["reason"]
        assert moved_aside(name) == 1

        # the channel's delivery tags still match the broker's: a dead-letter publish on the
        # same publisher gets its confirm
        await asyncio.wait_for(
            pub.publish_raw(dlx(name), TYPE, b"{}", {"message_id": "dl-check"}), timeout=5
        )
        # later events keep flowing, of the poisoned aggregate too
        a4 = event(name, "A", 4)
        await store(db, [a4])
        relay.wake()
        assert [m.message_id for m in await collect(amqp_url, listener, 1)] == [a4.event.id]
        assert relay._task is not None and not relay._task.done()
        assert relay.health() == "ok"
    finally:
        await relay.stop()
        await pub.close()
        await conn.close()

    # a restart neither blocks again nor dead-letters the event twice
    conn = await connect(amqp_url, "test-outbox-poison-2")
    pub = Publisher(conn, name)
    relay = OutboxRelay(name, db, pub, poll_s=0.05)
    relay.start()
    try:
        a5 = event(name, "A", 5)
        await store(db, [a5])
        relay.wake()
        assert [m.message_id for m in await collect(amqp_url, listener, 1)] == [a5.event.id]
        assert [m.message_id for m in await drain_queue(amqp_url, dlq(name))] == ["dl-check"]
        assert moved_aside(name) == 1
    finally:
        await relay.stop()
        await pub.close()
        await conn.close()


async def test_a_message_amqp_cannot_encode_fails_alone_in_a_batch_and_the_channel_goes_on(
    amqp_url: str,
) -> None:
    conn = await connect(amqp_url, "test-unpublishable-batch")
    try:
        ch = await conn.channel()
        ex = await ch.declare_exchange("unpub.test", aio_pika.ExchangeType.TOPIC, auto_delete=True)
        q = await ch.declare_queue("", exclusive=True)
        await q.bind(ex, "#")
        pub = Publisher(conn, "test")
        items = [
            Outgoing("unpub.test", "k", str(i).encode(), {"message_id": f"m{i}"}) for i in range(6)
        ]
        items.insert(3, Outgoing("unpub.test", "k", b"bad", {"message_id": "x" * 300}))
        items.insert(5, Outgoing("unpub.test", "k" * 300, b"bad", {"message_id": "long-key"}))
        outcomes = await asyncio.wait_for(pub.publish_many(items), timeout=10)
        assert [type(o).__name__ for o in outcomes] == (
            ["NoneType"] * 3 + ["Unpublishable", "NoneType", "Unpublishable"] + ["NoneType"] * 2
        )
        with pytest.raises(Exception, match="255 bytes"):
            await pub.publish_raw("unpub.test", "k", b"bad", {"message_id": "é" * 200})
        await asyncio.wait_for(pub.publish_raw("unpub.test", "k", b"after", {}), timeout=5)
        again = await asyncio.wait_for(
            pub.publish_many([Outgoing("unpub.test", "k", b"last", {"message_id": "m9"})]), 5
        )
        assert again == [None]
        await pub.close()
    finally:
        await conn.close()


async def test_the_relay_moves_aside_older_events_that_break_the_contract(
    amqp_url: str, mongo: Any, db_name: str
) -> None:
    """Events written without the emit-time check (documents of an earlier release) are
    checked by the relay; events checked when emitted are not checked again."""
    name = f"contract-{uuid.uuid4().hex[:8]}"
    listener = await declare_service(amqp_url, name)
    db = mongo[db_name]
    good, bad, after = event(name, "A", 1), event(name, "A", -1), event(name, "A", 2)
    old = event(name, "B", 1, time=datetime(1960, 5, 1, tzinfo=UTC), correlationid="o" * 300)
    await store(db, [good], [bad], [old], [after])
    conn = await connect(amqp_url, "test-outbox-contract")
    pub = Publisher(conn, name)
    relay = OutboxRelay(name, db, pub, contract={TYPE: Changed})
    try:
        assert await relay.drain_once() == 4
        dead = {json.loads(m.body)["id"]: m for m in await drain_queue(amqp_url, dlq(name))}
        got = {m.message_id: m for m in await drain_queue(amqp_url, listener)}
        assert good.event.id in got and after.event.id in got and bad.event.id in dead
        reason = str((dead[bad.event.id].headers or {})[F.H_EXC_MSG])
        assert "breaks the contract" in reason and "i:" in reason
        # an event time before 1970 is outside the envelope's bounds once they are enforced;
        # before that, it goes out without the properties AMQP cannot hold
        if old.event.id in dead:
            assert (dead[old.event.id].headers or {})[F.H_KIND] == "unpublishable"
        else:
            assert got[old.event.id].timestamp is None
        assert await unsent(db) == 0
    finally:
        await pub.close()
        await conn.close()


class Scripted:
    """A publisher that answers per message id as told (None: confirmed), or breaks whole."""

    def __init__(self, answers: dict[str, BaseException] | None = None) -> None:
        self.answers = answers or {}
        self.broken = False
        self.sent: list[tuple[str, str | None]] = []  # (exchange, message id)

    async def publish_many(self, items: list[Outgoing]) -> list[BaseException | None]:
        if self.broken:
            raise RuntimeError("a bug in the publisher")
        out: list[BaseException | None] = []
        for it in items:
            mid = it.properties.get("message_id")
            err = self.answers.get(mid or "") if it.exchange.endswith(".events") else None
            if err is None:
                self.sent.append((it.exchange, mid))
            out.append(err)
        return out


async def test_an_outage_keeps_an_event_and_any_other_failure_moves_it_aside(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    a = [event("svc", "A", i) for i in range(3)]
    b = [event("svc", "B", i) for i in range(2)]
    await store(db, [a[0], b[0]], [a[1]], [b[1]], [a[2]])
    pub = Scripted(
        {a[1].event.id: ValueError("cannot be sent"), b[0].event.id: PublishNacked("full")}
    )
    relay = OutboxRelay("svc", db, pub)
    with pytest.raises(PublishNacked):
        await relay.drain_once()
    sent = [mid for ex, mid in pub.sent if ex == "svc.events"]
    assert sent == [a[0].event.id, a[2].event.id]  # A goes on past the one moved aside
    assert pub.sent.count(("svc.dlx", a[1].event.id)) == 1
    # B's refused event and what follows it wait, with their documents
    assert b[1].event.id not in sent
    assert await unsent(db) == 2  # the documents of b[0] (with a[0]) and b[1]
    pub.answers = {}
    await relay.drain_once()
    assert await unsent(db) == 0
    assert [mid for ex, mid in pub.sent if ex == "svc.dlx"] == [a[1].event.id]


async def test_an_event_moved_aside_from_a_document_kept_for_later_is_dead_lettered_once(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    a, b = event("svc", "A", 1), event("svc", "B", 1)
    await store(db, [a, b])
    pub = Scripted({a.event.id: ValueError("cannot be sent"), b.event.id: PublishNacked("full")})
    relay = OutboxRelay("svc", db, pub)
    for _ in range(2):
        with pytest.raises(PublishNacked):
            await relay.drain_once()
    doc = await db[OUTBOX].find_one({"_id": a.event.id})
    assert doc is not None and doc["sent_at"] is None
    assert [p["id"] for p in doc["poisoned"]] == [a.event.id]
    pub.answers = {}
    await relay.drain_once()
    assert await unsent(db) == 0
    assert pub.sent.count(("svc.dlx", a.event.id)) == 1
    assert ("svc.events", a.event.id) not in pub.sent and ("svc.events", b.event.id) in pub.sent


async def test_a_document_that_cannot_be_read_is_moved_aside_whole(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    good = event("svc", "A", 1)
    broken = outbox_doc([event("svc", "A", 0)], datetime.now(UTC))
    broken["payload"] = Binary(b"not bson")
    await db[OUTBOX].insert_one(broken)
    await store(db, [good])
    pub = Scripted()
    assert await OutboxRelay("svc", db, pub).drain_once() == 1
    assert pub.sent == [("svc.events", good.event.id), ("svc.dlx", broken["_id"])]
    doc = await db[OUTBOX].find_one({"_id": broken["_id"]})
    assert doc is not None and doc["sent_at"] is not None
    assert "cannot be read" in doc["poisoned"][0]["reason"]


async def test_the_relay_survives_any_error_keeps_its_gauges_and_reports_a_stall(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    name = f"stall-{uuid.uuid4().hex[:8]}"
    events = [event(name, "A", i) for i in range(3)]
    await store(db, events)
    pub = Scripted()
    pub.broken = True
    relay = OutboxRelay(name, db, pub, poll_s=0.05, stall_s=0.5)
    relay.start()
    try:
        await eventually(lambda: _true(relay.health() != "ok"))
        assert "stalled" in relay.health()
        backlog = ("distsync_outbox_backlog", {"service": name})
        await eventually(lambda: _true(REGISTRY.get_sample_value(*backlog) == 3))
        assert relay._task is not None and not relay._task.done()
        pub.broken = False
        await eventually(lambda: _true(len(pub.sent) == 3))
        await eventually(lambda: _equals(unsent(db), 0))
        assert relay.health() == "ok"
    finally:
        await relay.stop()


class Emitted(BaseModel):
    key: str
    total: int = Field(ge=0)


class Happened(BaseModel):
    key: str
    n: int


async def handle_happened(msg: Incoming[Happened], uow: UnitOfWork) -> None:
    uow.put("counters", msg.data.key, {"total": msg.data.n})
    uow.emit("thing.counted", {"key": msg.data.key, "total": msg.data.n}, key=msg.data.key)


async def test_a_handler_that_emits_an_event_breaking_the_contract_fails_its_message(
    amqp_url: str, mongodb_url: str, mongo: Any, db_name: str
) -> None:
    svc = ServiceDefinition(
        name=f"emit-{uuid.uuid4().hex[:8]}",
        routes=(Route("thing.happened", Happened, handle_happened, ("wms.events",)),),
        publishes=(Publication("thing.counted", Emitted),),
    )
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name))
    try:
        for key, n in (("good", 2), ("bad", -1)):
            ev = build("thing.happened", {"key": key, "n": n}, source="wms/test")
            await publish(amqp_url, "wms.events", "thing.happened", ev.to_json_bytes())
        dead = await collect(amqp_url, dlq(svc.name), 1)
        h = dead[0].headers or {}
        assert json.loads(dead[0].body)["data"]["key"] == "bad"
        assert h[F.H_KIND] == "outgoing_event_invalid" and "total" in str(h[F.H_EXC_MSG])
        counters = mongo[db_name]["counters"]
        await eventually(lambda: counters.find_one({"_id": "good"}))
        assert await counters.find_one({"_id": "bad"}) is None  # nothing of it committed
        await eventually(lambda: _equals(unsent(mongo[db_name]), 0))
        doc = await mongo[db_name][OUTBOX].find_one({})
        assert doc is not None and doc["validated"] is True and doc["n"] == 1
        assert (await rt.ready())["outbox"] == "ok"
    finally:
        await rt.stop()


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def _true(value: bool) -> bool:
    return value
