"""The permissions of deploy/rabbitmq/definitions.json, enforced by a real RabbitMQ.

A throwaway vhost gets the definitions' users (renamed with a unique prefix, test passwords) and
exactly their permission regexes, via rabbitmqctl; guest declares the definitions' exchanges and
queues there as the admin would. Then each user tries what it may and may not do. Needs the local
broker (127.0.0.1:5672, guest) and rabbitmqctl (run as root); everything is removed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import aiormq.exceptions
import pytest

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]


def _broker_available() -> str | None:
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl not found (needs the local RabbitMQ, as root)"
    try:
        socket.create_connection((HOST, 5672), timeout=2).close()
    except OSError:
        return "no RabbitMQ on 127.0.0.1:5672 (`rabbitmq-server -detached`)"
    return None


def _ctl_all(commands: list[list[str]]) -> None:
    """Run rabbitmqctl commands concurrently (each one starts an Erlang VM)."""
    procs = [
        subprocess.Popen(["rabbitmqctl", "-q", *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for c in commands
    ]
    for cmd, p in zip(commands, procs, strict=True):
        out, err = p.communicate(timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {cmd[0]} failed: {err.decode()}{out.decode()}")


@dataclass
class Broker:
    vhost: str
    prefix: str
    password: str

    def url(self, user: str) -> str:
        name = quote(self.prefix + user, safe="")
        return f"amqp://{name}:{quote(self.password, safe='')}@{HOST}:5672/{quote(self.vhost, safe='')}"

    @property
    def admin_url(self) -> str:
        return f"amqp://guest:guest@{HOST}:5672/{quote(self.vhost, safe='')}"


@pytest.fixture(scope="module")
def broker(definitions: dict[str, Any]) -> Iterator[Broker]:
    reason = _broker_available()
    if reason:
        pytest.skip(reason)
    b = Broker(
        vhost=f"distsync-lp-{uuid.uuid4().hex[:8]}",
        prefix=f"lp{uuid.uuid4().hex[:6]}-",
        password=uuid.uuid4().hex,
    )
    perms = [p for p in definitions["permissions"] if p["vhost"] == "distsync"]
    users = [b.prefix + p["user"] for p in perms]
    _ctl_all([["add_vhost", b.vhost]])
    try:
        _ctl_all(
            [["set_permissions", "-p", b.vhost, "guest", ".*", ".*", ".*"]]
            + [["add_user", u, b.password] for u in users]
        )
        _ctl_all(
            [
                [
                    "set_permissions",
                    "-p",
                    b.vhost,
                    b.prefix + p["user"],
                    p["configure"],
                    p["write"],
                    p["read"],
                ]
                for p in perms
            ]
        )
        topics = [t for t in definitions["topic_permissions"] if t["vhost"] == "distsync"]
        _ctl_all(
            [
                [
                    "set_topic_permissions",
                    "-p",
                    b.vhost,
                    b.prefix + t["user"],
                    t["exchange"],
                    t["write"],
                    t["read"],
                ]
                for t in topics
            ]
        )
        yield b
    finally:
        _ctl_all([["delete_vhost", b.vhost]] + [["delete_user", u] for u in users])


@pytest.fixture(scope="module")
async def topology(broker: Broker, definitions: dict[str, Any]) -> AsyncIterator[None]:
    """Declare the definitions' exchanges, queues and bindings as the admin would."""
    conn = await aio_pika.connect(broker.admin_url)
    try:
        ch = await conn.channel()
        exchanges = sorted(definitions["exchanges"], key=lambda e: e["name"] != "unrouted")
        for e in exchanges:
            await ch.declare_exchange(
                e["name"], aio_pika.ExchangeType(e["type"]), durable=True, arguments=e["arguments"]
            )
        for q in definitions["queues"]:
            await ch.declare_queue(q["name"], durable=True, arguments=q["arguments"])
        for bnd in definitions["bindings"]:
            queue = await ch.get_queue(bnd["destination"], ensure=False)
            await queue.bind(bnd["source"], routing_key=bnd["routing_key"])
        yield
    finally:
        await conn.close()


async def publish(url: str, exchange: str, routing_key: str) -> None:
    """Publish one persistent message with publisher confirms; raises if the broker refuses."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        ex = (
            ch.default_exchange if exchange == "" else await ch.get_exchange(exchange, ensure=False)
        )
        await ex.publish(
            aio_pika.Message(
                b'{"specversion": "1.0"}', delivery_mode=aio_pika.DeliveryMode.PERSISTENT
            ),
            routing_key=routing_key,
            timeout=10,
        )
    finally:
        await conn.close()


async def read_one(url: str, queue: str) -> None:
    """basic.get on a queue (needs read permission on it)."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        q = await ch.get_queue(queue, ensure=False)
        await q.get(no_ack=False, fail=False, timeout=10)
    finally:
        await conn.close()


async def declare_queue(url: str, queue: str, arguments: dict[str, Any]) -> None:
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        await ch.declare_queue(queue, durable=True, arguments=arguments)
    finally:
        await conn.close()


def _queue_args(definitions: dict[str, Any], name: str) -> dict[str, Any]:
    return next(q["arguments"] for q in definitions["queues"] if q["name"] == name)


Refused = aiormq.exceptions.ChannelAccessRefused


async def test_wms_may_publish_to_wms_events(broker: Broker, topology: None) -> None:
    await publish(broker.url("wms"), "wms.events", "inventory.adjusted")


async def test_wms_is_refused_publishing_to_erp_events(broker: Broker, topology: None) -> None:
    with pytest.raises(Refused) as refused:
        await publish(broker.url("wms"), "erp.events", "order.created")
    assert "ACCESS_REFUSED" in str(refused.value)
    assert "erp.events" in str(refused.value)


async def test_wms_is_refused_publishing_straight_into_a_service_queue(
    broker: Broker, topology: None
) -> None:
    with pytest.raises(Refused):
        await publish(broker.url("wms"), "", "availability.main")


async def test_every_publishing_system_may_write_its_own_exchange_only(
    broker: Broker, topology: None
) -> None:
    exchanges = ("erp.events", "wms.events", "carrier.events", "commerce.events")
    for system in ("erp", "wms", "carrier", "commerce"):
        for exchange in exchanges:
            if exchange == f"{system}.events":
                await publish(broker.url(system), exchange, "test.event")
            else:
                with pytest.raises(Refused):
                    await publish(broker.url(system), exchange, "test.event")


async def test_a_publishing_system_cannot_declare_its_own_exchange(
    broker: Broker, topology: None
) -> None:
    conn = await aio_pika.connect(broker.url("erp"))
    try:
        ch = await conn.channel()
        with pytest.raises(Refused):
            await ch.declare_exchange("erp.events", aio_pika.ExchangeType.TOPIC, durable=True)
    finally:
        await conn.close()


async def test_keda_reads_queue_depths_and_nothing_else(
    broker: Broker, topology: None, definitions: dict[str, Any]
) -> None:
    """KEDA's scaler uses a passive queue.declare, allowed without any permission; the keda
    user can neither consume, publish nor declare."""
    conn = await aio_pika.connect(broker.url("keda"))
    try:
        ch = await conn.channel()
        queue = await ch.declare_queue("availability.main", passive=True)
        assert queue.declaration_result.message_count is not None
    finally:
        await conn.close()
    with pytest.raises(Refused):
        await read_one(broker.url("keda"), "availability.main")
    with pytest.raises(Refused):
        await publish(broker.url("keda"), "availability.events", "test.event")
    with pytest.raises(Refused):
        await declare_queue(
            broker.url("keda"), "availability.dlq", _queue_args(definitions, "availability.dlq")
        )


async def test_a_service_cannot_read_another_services_queue(broker: Broker, topology: None) -> None:
    await read_one(broker.url("availability"), "availability.main")
    with pytest.raises(Refused) as refused:
        await read_one(broker.url("availability"), "order-status.main")
    assert "order-status.main" in str(refused.value)
    with pytest.raises(Refused):
        await read_one(broker.url("order-status"), "availability.dlq")


async def test_a_service_publishes_its_events_retries_and_dead_letters_only(
    broker: Broker, topology: None
) -> None:
    url = broker.url("availability")
    await publish(url, "availability.events", "availability.changed")
    await publish(url, "availability.dlx", "availability.changed")
    await publish(url, "availability.retry", "availability.retry.1s")
    with pytest.raises(Refused):
        await publish(url, "order-status.retry", "order-status.retry.1s")
    with pytest.raises(Refused):
        await publish(url, "order-status.events", "order.status_changed")
    with pytest.raises(Refused):
        await publish(url, "erp.events", "order.created")


@pytest.mark.parametrize("user", ["availability", "carrier-tracking", "wms"])
async def test_no_service_or_publisher_may_write_into_a_queue_through_the_default_exchange(
    broker: Broker, topology: None, user: str
) -> None:
    """The default exchange routes to any queue by its name: carrier-tracking, which faces the
    internet, must not be able to put a message into another service's queue (or its own)."""
    for queue in ("order-status.main", "availability.retry.1s", "availability.dlq"):
        with pytest.raises(Refused) as refused:
            await publish(broker.url(user), "", queue)
        assert "ACCESS_REFUSED" in str(refused.value)
        assert "amq.default" in str(refused.value)


async def test_a_retry_published_by_the_service_user_comes_back_to_its_main_queue(
    broker: Broker, topology: None
) -> None:
    """The service publishes a retry to its own `<service>.retry` exchange; when the retry
    queue's TTL runs out, the broker itself dead-letters it back to `<service>.main`."""
    url = broker.url("returns")
    marker = uuid.uuid4().hex
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        retry = await ch.get_exchange("returns.retry", ensure=False)
        await retry.publish(
            aio_pika.Message(marker.encode(), message_id=marker, delivery_mode=2),
            routing_key="returns.retry.1s",
            mandatory=True,
            timeout=10,
        )
        main = await ch.get_queue("returns.main", ensure=False)
        deadline = asyncio.get_running_loop().time() + 30
        seen = None
        while seen is None and asyncio.get_running_loop().time() < deadline:
            got = await main.get(no_ack=True, fail=False, timeout=10)
            if got is None:
                await asyncio.sleep(0.2)
            elif got.message_id == marker:
                seen = got
        assert seen is not None, "the retry never came back to returns.main"
        assert seen.body == marker.encode()
    finally:
        await conn.close()


async def test_carrier_tracking_may_also_publish_carrier_events(
    broker: Broker, topology: None
) -> None:
    await publish(broker.url("carrier-tracking"), "carrier.events", "tracking.reported")
    with pytest.raises(Refused):
        await publish(broker.url("availability"), "carrier.events", "tracking.reported")


async def test_the_ingress_publishes_on_an_ingress_exchange_only_the_types_bound_there(
    broker: Broker, topology: None
) -> None:
    """Topic permissions: the routing key (the event type) is checked per exchange."""
    await publish(broker.url("ingress"), "erp.events", "order.created")
    await publish(broker.url("ingress"), "wms.events", "inventory.counted")
    for exchange, key in (
        ("erp.events", "inventory.counted"),  # a type no service reads from erp.events
        ("commerce.events", "order.created"),
        ("availability.events", "availability.changed"),  # another service's exchange
    ):
        with pytest.raises(Refused):
            await publish(broker.url("ingress"), exchange, key)


async def test_the_reconciliation_user_publishes_counts_on_wms_events_and_nothing_else(
    broker: Broker, topology: None
) -> None:
    await publish(broker.url("reconcile"), "wms.events", "inventory.counted")
    for exchange, key in (
        ("wms.events", "inventory.adjusted"),
        ("erp.events", "inventory.counted"),
    ):
        with pytest.raises(Refused):
            await publish(broker.url("reconcile"), exchange, key)


async def test_a_service_cannot_declare_another_services_queue(
    broker: Broker, topology: None, definitions: dict[str, Any]
) -> None:
    own = "availability.main"
    await declare_queue(broker.url("availability"), own, _queue_args(definitions, own))
    other = "returns.main"
    with pytest.raises(Refused):
        await declare_queue(broker.url("availability"), other, _queue_args(definitions, other))


async def test_a_service_reads_its_own_dlq_age_with_its_own_user(
    broker: Broker, topology: None
) -> None:
    """The DLQ-age gauge runs in the service, as the service's user: passive declare, the
    dlq tools' lock, consume and hand back. Another service's lock is refused."""
    from datetime import UTC, datetime, timedelta

    from shared import dlq_age
    from shared import failures as F

    conn = await aio_pika.connect(broker.admin_url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        await (await ch.get_queue("availability.dlq", ensure=False)).purge()  # earlier tests'
        failed_at = datetime.now(UTC) - timedelta(hours=1)
        await ch.default_exchange.publish(
            aio_pika.Message(b"{}", headers={F.H_LAST: F._iso(failed_at)}, delivery_mode=2),
            routing_key="availability.dlq",
        )
    finally:
        await conn.close()
    own = broker.url("availability")
    age = await dlq_age.oldest_age("availability", own)
    assert age is not None and 3600 <= age < 3600 + 60
    assert await dlq_age.oldest_age("availability", own, in_place=True) is not None
    conn = await aio_pika.connect(broker.url("availability"))
    try:
        ch = await conn.channel()
        with pytest.raises(Refused):
            await ch.declare_queue("distsync.dlq-lock.returns.dlq", exclusive=True)
    finally:
        await conn.close()


async def test_the_dlq_age_gauge_renews_its_dlq_without_the_default_exchange(
    broker: Broker, topology: None
) -> None:
    """A DLQ head handed out often enough is renewed (published again, then acked): as the
    service's user, that publish goes through `<service>.dlx`, which routes only to its DLQ."""
    from shared import dlq_age

    conn = await aio_pika.connect(broker.admin_url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        dlq = await ch.get_queue("receipt.dlq", ensure=False)
        await dlq.purge()
        await ch.default_exchange.publish(
            aio_pika.Message(b"{}", message_id="renew-me", delivery_mode=2),
            routing_key="receipt.dlq",
        )
        own = broker.url("receipt")
        assert await dlq_age.oldest_age("receipt", own, in_place=False, renew_at=1) is not None
        got = await dlq.get(no_ack=False, fail=False, timeout=10)
        assert got is not None and got.message_id == "renew-me"
        assert (got.exchange, got.routing_key) == ("receipt.dlx", "receipt.dlq")  # renewed
        await got.ack()
        assert await dlq.get(no_ack=True, fail=False, timeout=10) is None  # once, not twice
    finally:
        await conn.close()


PARTITIONED = "receipt"
PARTITIONS = 3


def _partition_objects(service: str, count: int) -> Any:
    """Only the partition objects of `service_topology(..., partitions=count)`, as the code
    declares them (the exchange, the partition queues with their bindings, the replicas queue)."""
    from shared.topology import (
        Topology,
        partition_queue,
        partitions_exchange,
        replicas_queue,
        service_topology,
    )
    from shared.topology import all_services as installed

    (svc,) = [s for s in installed() if s.name == service]
    full = service_topology(svc, partitions=count)
    names = {partition_queue(service, i) for i in range(count)} | {replicas_queue(service)}
    ex = partitions_exchange(service)
    return Topology({ex: full.exchanges[ex]}, [q for q in full.queues if q.name in names])


async def test_a_partitioned_service_runs_its_partitions_with_its_own_user(
    broker: Broker, topology: None
) -> None:
    """What `DISTSYNC_PARTITIONS` > 1 does as the service's generated user: declare the partition
    objects (a service that declares its own topology), take the router lock, move a message
    from `<svc>.main` into a partition, consume it there and be counted on `<svc>.replicas`."""
    from shared.topology import declare

    marker = uuid.uuid4().hex
    conn = await aio_pika.connect(broker.url(PARTITIONED))
    try:
        ch = await conn.channel(publisher_confirms=True)
        await declare(ch, _partition_objects(PARTITIONED, PARTITIONS))
        await ch.declare_queue(f"distsync.router-lock.{PARTITIONED}", exclusive=True)
        await (await ch.get_queue(f"{PARTITIONED}.main", ensure=False)).get(
            no_ack=False, fail=False, timeout=10
        )  # the router reads the main queue
        partitions = await ch.get_exchange(f"{PARTITIONED}.partitions", ensure=False)
        await partitions.publish(
            aio_pika.Message(marker.encode(), message_id=marker, delivery_mode=2),
            routing_key="2",
            mandatory=True,
            timeout=10,
        )
        # a single-active-consumer queue refuses basic.get: consume, as the replicas do
        part = await ch.get_queue(f"{PARTITIONED}.part.2", ensure=False)
        arrived: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
        await part.consume(arrived.put, no_ack=True)
        got = await asyncio.wait_for(arrived.get(), timeout=30)
        assert got.message_id == marker
        replicas = await ch.get_queue(f"{PARTITIONED}.replicas", ensure=False)

        async def ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            return None

        await replicas.consume(ignore)
        counted = await ch.declare_queue(f"{PARTITIONED}.replicas", passive=True)
        assert counted.declaration_result.consumer_count == 1
    finally:
        await conn.close()


@pytest.mark.parametrize("user", ["erp", "wms", "carrier", "commerce", "availability", "ingress"])
async def test_no_one_else_may_publish_into_a_services_partitions(
    broker: Broker, topology: None, user: str
) -> None:
    """The consumer trusts the original exchange and routing key the router writes into a
    partitioned message's headers: a source system or another service must not forge one."""
    from shared.topology import declare

    admin = await aio_pika.connect(broker.admin_url)
    try:
        await declare(await admin.channel(), _partition_objects(PARTITIONED, PARTITIONS))
    finally:
        await admin.close()
    with pytest.raises(Refused) as refused:
        await publish(broker.url(user), f"{PARTITIONED}.partitions", "0")
    assert f"{PARTITIONED}.partitions" in str(refused.value)
    with pytest.raises(Refused):
        await read_one(broker.url(user), f"{PARTITIONED}.part.0")


async def test_another_service_can_neither_take_the_router_lock_nor_declare_the_partitions(
    broker: Broker, topology: None
) -> None:
    conn = await aio_pika.connect(broker.url("availability"))
    try:
        ch = await conn.channel()
        with pytest.raises(Refused):
            await ch.declare_queue(f"distsync.router-lock.{PARTITIONED}", exclusive=True)
    finally:
        await conn.close()
    with pytest.raises(Refused):
        await declare_queue(broker.url("availability"), f"{PARTITIONED}.part.0", {})
    with pytest.raises(Refused):  # the ingress consumes nothing: no partitions of its own
        await declare_queue(broker.url("ingress"), "ingress.part.0", {"x-queue-type": "quorum"})


def test_topology_apply_agrees_with_the_definitions_on_a_real_broker(
    broker: Broker, topology: None
) -> None:
    """`distsync topology apply` over the definitions' objects: no inequivalent-argument error."""
    from shared.topology import all_services

    distsync = Path(sys.executable).with_name("distsync")
    if not distsync.exists():
        pytest.skip("the distsync CLI is not installed in this environment")
    try:
        all_services()
    except Exception as e:  # a service's code that does not import fails its own tests
        pytest.skip(f"the installed services do not load ({type(e).__name__}: {e})")
    env = {**os.environ, "AMQP_URL": broker.admin_url}
    result = subprocess.run(
        [str(distsync), "topology", "apply"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
