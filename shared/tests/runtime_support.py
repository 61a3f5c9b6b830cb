"""A tiny service used to test the runtime itself, and polling helpers (tests never sleep)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
from pydantic import BaseModel, Field

from shared.envelope import build
from shared.errors import Rejected
from shared.runtime import ServiceRuntime
from shared.service import Incoming, Publication, Route, ServiceDefinition
from shared.settings import ServiceSettings
from shared.uow import UnitOfWork


class ThingHappened(BaseModel):
    key: str = Field(min_length=1)
    n: int = Field(ge=0)


class ThingCounted(BaseModel):
    key: str
    total: int


FAILS: dict[str, int] = {}


async def handle_thing(msg: Incoming[ThingHappened], uow: UnitOfWork) -> None:
    d = msg.data
    if d.key.startswith("boom"):
        raise RuntimeError(f"handler bug for {d.key}")
    if d.key.startswith("reject"):
        raise Rejected(f"refused {d.key}: no conversion for unit CS")
    doc = await uow.get("counters", d.key) or {"total": 0}
    doc["total"] += d.n
    uow.put("counters", d.key, doc)
    uow.emit("thing.counted", ThingCounted(key=d.key, total=doc["total"]), key=d.key)


async def handle_counted(msg: Incoming[ThingCounted], uow: UnitOfWork) -> None:
    doc = await uow.get("seen", msg.data.key) or {"count": 0, "totals": []}
    doc["count"] += 1
    doc["totals"].append(msg.data.total)
    uow.put("seen", msg.data.key, doc)


def _counter_keys(d: ThingHappened) -> list[tuple[str, str]]:
    return [("counters", d.key)]


def counter_service(name: str | None = None, *, preload: bool = False) -> ServiceDefinition:
    keys = _counter_keys if preload else None
    return ServiceDefinition(
        name=name or f"rt-{uuid.uuid4().hex[:8]}",
        routes=(Route("thing.happened", ThingHappened, handle_thing, ("wms.events",), keys),),
        publishes=(Publication("thing.counted", ThingCounted),),
    )


def listener_service(source: ServiceDefinition) -> ServiceDefinition:
    return ServiceDefinition(
        name=f"{source.name}-listener",
        routes=(Route("thing.counted", ThingCounted, handle_counted, (source.exchange,)),),
    )


def settings_for(amqp_url: str, mongodb_url: str, db: str, **kw: Any) -> ServiceSettings:
    base: dict[str, Any] = dict(
        amqp_url=amqp_url,
        mongodb_url=mongodb_url,
        mongodb_db=db,
        log_json=False,
        retry_delays_s=[1],
        max_attempts=3,
        outbox_poll_s=0.05,
        batch_wait_ms=2,
    )
    base.update(kw)
    return ServiceSettings(**base)


async def start(svc: ServiceDefinition, settings: ServiceSettings) -> ServiceRuntime:
    rt = ServiceRuntime(svc, settings)
    await rt.start(serve_http=False)
    return rt


def event_body(
    key: str, n: int = 1, id: str | None = None, type: str = "thing.happened"
) -> tuple[str, bytes]:
    ev = build(type, {"key": key, "n": n}, source="wms/test", id=id, correlationid=f"corr-{key}")
    return ev.id, ev.to_json_bytes()


async def publish(url: str, exchange: str, routing_key: str, body: bytes, **props: Any) -> None:
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange(exchange, ensure=False)
        await ex.publish(
            aio_pika.Message(body=body, delivery_mode=2, **props), routing_key=routing_key
        )
    finally:
        await conn.close()


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 15.0, interval: float = 0.05
) -> Any:
    """Poll `check` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


async def drain_queue(url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message from a queue (acked), for assertions."""
    conn = await aio_pika.connect(url)
    out = []
    try:
        ch = await conn.channel()
        q = await ch.get_queue(queue, ensure=False)
        while True:
            m = await q.get(no_ack=True, fail=False)
            if m is None:
                break
            out.append(m)
    finally:
        await conn.close()
    return out


async def queue_depth(url: str, queue: str) -> int:
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        return int(q.declaration_result.message_count or 0)
    finally:
        await conn.close()


async def outbox_events(db, *, sent: bool | None = None) -> int:
    """How many events the outbox holds (one document per committed batch)."""
    match: dict[str, Any] = {}
    if sent is True:
        match = {"sent_at": {"$ne": None}}
    elif sent is False:
        match = {"sent_at": None}
    pipeline = [{"$match": match}, {"$group": {"_id": None, "n": {"$sum": "$n"}}}]
    rows = await (await db["outbox"].aggregate(pipeline)).to_list()
    return int(rows[0]["n"]) if rows else 0


class Step(BaseModel):
    key: str = Field(min_length=1)
    seq: int = Field(ge=0)


async def handle_step(msg: Incoming[Step], uow: UnitOfWork) -> None:
    """Record the order in which one key's messages were applied."""
    d = msg.data
    doc = await uow.get("steps", d.key) or {"seq": []}
    doc["seq"] = [*doc["seq"], d.seq]
    uow.put("steps", d.key, doc)


def _step_keys(d: Step) -> list[tuple[str, str]]:
    return [("steps", d.key)]


def sequence_service(name: str | None = None) -> ServiceDefinition:
    """A service that keeps, per key, the sequence numbers in the order it applied them."""
    return ServiceDefinition(
        name=name or f"seq-{uuid.uuid4().hex[:8]}",
        routes=(Route("step.happened", Step, handle_step, ("wms.events",), _step_keys),),
    )


async def publish_steps(url: str, keys: list[str], per_key: int, start: int = 0) -> int:
    """Publish `per_key` numbered steps for each key, interleaved, with confirms."""
    conn = await aio_pika.connect(url)
    n = 0
    try:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange("wms.events", ensure=False)
        for s in range(start, start + per_key):
            pending = []
            for k in keys:
                ev = build("step.happened", {"key": k, "seq": s}, source="wms/test")
                msg = aio_pika.Message(ev.to_json_bytes(), delivery_mode=2, message_id=ev.id)
                pending.append(ex.publish(msg, routing_key="step.happened"))
                n += 1
            await asyncio.gather(*pending)
    finally:
        await conn.close()
    return n
