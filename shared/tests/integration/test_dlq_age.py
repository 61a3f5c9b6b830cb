"""The DLQ-age gauge against the real broker: it reads the head's last failure, leaves every
message in place and in order, never lets a head be dropped by a delivery limit, and stands
aside while another reader (a dlq command) holds the queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
from prometheus_client import REGISTRY

from runtime_support import (
    counter_service,
    drain_queue,
    event_body,
    eventually,
    publish,
    queue_depth,
    settings_for,
    start,
)
from shared import dlq_age as A
from shared import dlq_head
from shared import failures as F
from shared.errors import Rejected
from shared.runtime import periodic_tasks
from shared.service import TaskContext
from shared.settings import ServiceSettings
from shared.topology import declare, service_topology

pytestmark = pytest.mark.integration

GAUGE = "distsync_dlq_oldest_message_age_seconds"


def gauge(service: str) -> float | None:
    return REGISTRY.get_sample_value(GAUGE, {"service": service})


def ctx_for(service: str, settings: ServiceSettings) -> TaskContext:
    async def no_tx(fn: Any) -> None:
        raise AssertionError("the DLQ age writes nothing")

    return TaskContext(service, None, settings, no_tx)


async def seed(
    url: str, last_failures: list[datetime], *, delivery_limit: int | None = None
) -> tuple[str, list[str]]:
    """A service whose DLQ holds one message per failure time, in that order. With
    `delivery_limit`, the DLQ is declared with one: RabbitMQ 3.x then gives a returned message
    back at the head and drops it past the limit, as 4.x quorum queues do by default."""
    service = f"age-{uuid.uuid4().hex[:8]}"
    conn = await aio_pika.connect(url)
    ids = []
    try:
        ch = await conn.channel(publisher_confirms=True)
        if delivery_limit is None:
            await declare(ch, service_topology(counter_service(service)))
        else:
            args = {"x-queue-type": "quorum", "x-delivery-limit": delivery_limit}
            await ch.declare_queue(f"{service}.dlq", durable=True, arguments=args)
        for t in last_failures:
            mid = uuid.uuid4().hex
            ids.append(mid)
            headers = {
                F.H_SERVICE: service,
                F.H_KIND: "rejected",
                F.H_FIRST: F._iso(t - timedelta(days=2)),  # a replay ago: must not count
                F.H_LAST: F._iso(t),
            }
            await ch.default_exchange.publish(
                aio_pika.Message(b"{}", headers=headers, message_id=mid, delivery_mode=2),
                routing_key=f"{service}.dlq",
            )
    finally:
        await conn.close()
    return service, ids


async def peek(url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message of `queue`, handed back in order (held until all are read)."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        out = []
        while (m := await q.get(no_ack=False, fail=False)) is not None:
            out.append(m)
        if out:
            await out[-1].nack(multiple=True, requeue=True)  # all back at once, in order
        return out
    finally:
        await conn.close()


async def ids_in(url: str, queue: str) -> list[str | None]:
    return [m.message_id for m in await drain_queue(url, queue)]


def close_to(value: float | None, expected: float, slack: float = 30.0) -> bool:
    return value is not None and expected <= value <= expected + slack


async def test_an_empty_dlq_reads_zero(amqp_url):
    service, _ = await seed(amqp_url, [])
    await A.refresh(ctx_for(service, ServiceSettings(amqp_url=amqp_url, dlq_age_walk=True)))
    assert gauge(service) == 0.0


async def test_the_gauge_is_the_age_of_the_head_by_its_last_failure_and_moves_nothing(amqp_url):
    now = datetime.now(UTC)
    times = [now - timedelta(hours=2), now - timedelta(hours=3), now - timedelta(minutes=10)]
    service, ids = await seed(amqp_url, times)
    ctx = ctx_for(service, ServiceSettings(amqp_url=amqp_url, dlq_age_walk=True))
    for _ in range(4):  # RabbitMQ 3.x here: every refresh walks the queue and hands it back
        await A.refresh(ctx)
        assert close_to(gauge(service), 7200.0), gauge(service)  # the head, not the max
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_on_a_tail_requeueing_broker_refreshes_keep_the_order_through_renewals(
    amqp_url, monkeypatch
):
    monkeypatch.setattr(dlq_head, "IDLE_S", 2.0)
    now = datetime.now(UTC)
    minutes = range(100, 0, -10)  # more than a head read's prefetch takes along
    service, ids = await seed(amqp_url, [now - timedelta(minutes=m) for m in minutes])
    for _ in range(7):  # renewed twice on the way; reading the head alone would rotate it
        age = await A.oldest_age(service, amqp_url, renew_at=3)
        assert close_to(age, 6000.0)
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_reading_only_the_head_never_lets_the_delivery_limit_drop_it(amqp_url, monkeypatch):
    monkeypatch.setattr(dlq_head, "IDLE_S", 2.0)
    now = datetime.now(UTC)
    service, ids = await seed(
        amqp_url, [now - timedelta(minutes=m) for m in range(100, 0, -10)], delivery_limit=4
    )
    for _ in range(12):  # unguarded, the head would be dropped at the fifth read
        age = await A.oldest_age(service, amqp_url, in_place=True, renew_at=3)
        assert close_to(age, 6000.0)
    assert await queue_depth(amqp_url, f"{service}.dlq") == 10
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_a_dlq_another_dlq_command_holds_is_skipped_and_keeps_the_last_value(amqp_url):
    service, ids = await seed(amqp_url, [datetime.now(UTC) - timedelta(hours=1)])
    ctx = ctx_for(service, ServiceSettings(amqp_url=amqp_url, dlq_age_walk=True))
    await A.refresh(ctx)
    assert close_to(gauge(service), 3600.0)
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        lock = f"distsync.dlq-lock.{service}.dlq"  # what `distsync dlq replay` holds meanwhile
        await ch.declare_queue(lock, exclusive=True, auto_delete=True)
        assert await A.oldest_age(service, amqp_url) is None
        before = gauge(service)
        await A.refresh(ctx)
        assert gauge(service) == before
    finally:
        await conn.close()
    assert await ids_in(amqp_url, f"{service}.dlq") == ids


async def test_the_gauge_can_be_switched_off(amqp_url):
    service, _ = await seed(amqp_url, [datetime.now(UTC)])
    await A.refresh(
        ctx_for(service, ServiceSettings(amqp_url=amqp_url, dlq_age_gauge=False, dlq_age_walk=True))
    )
    assert gauge(service) is None


async def test_a_message_the_runtime_dead_letters_shows_in_its_services_dlq_age(
    amqp_url, mongodb_url, db_name
):
    svc = counter_service()
    settings = settings_for(amqp_url, mongodb_url, db_name, dlq_age_walk=True)
    rt = await start(svc, settings)
    try:
        eid, body = event_body("reject-1")
        await publish(amqp_url, "wms.events", "thing.happened", body, message_id=eid)
        await eventually(lambda: _depth_is(amqp_url, f"{svc.name}.dlq", 1))
        [task] = [t for t in periodic_tasks(svc) if t.name == A.DLQ_AGE_TASK]
        [m] = await peek(amqp_url, f"{svc.name}.dlq")
        assert m.headers[F.H_EXC_TYPE] == Rejected.__name__
        last_failure = datetime.fromisoformat(str(m.headers[F.H_LAST]).replace("Z", "+00:00"))
        await task.fn(ctx_for(svc.name, settings))
        age = (datetime.now(UTC) - last_failure).total_seconds()
        assert close_to(gauge(svc.name), age - 5.0, slack=10.0)
        assert await queue_depth(amqp_url, f"{svc.name}.dlq") == 1
    finally:
        await rt.stop()


async def _depth_is(url: str, queue: str, n: int) -> bool:
    return await queue_depth(url, queue) == n


async def test_on_a_broker_that_requeues_at_the_tail_the_default_leaves_the_dlq_untouched(
    amqp_url,
):
    service, ids = await seed(amqp_url, [datetime.now(UTC) - timedelta(hours=1)] * 3)
    for _ in range(3):
        await A.refresh(ctx_for(service, ServiceSettings(amqp_url=amqp_url)))
    assert gauge(service) is None  # RabbitMQ 3.x here: no walk, no figure
    msgs = await peek(amqp_url, f"{service}.dlq")
    assert [m.headers.get("x-delivery-count", 0) for m in msgs] == [0, 0, 0]  # never handed out
    assert await ids_in(amqp_url, f"{service}.dlq") == ids
