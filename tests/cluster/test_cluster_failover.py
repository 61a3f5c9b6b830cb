"""The cluster forms, quorum queues span it, and a comma-list connection moves to a surviving
node when its own goes away, with nothing lost."""

from __future__ import annotations

import socket
import time
import uuid

import aio_pika
import pytest
from yarl import URL

from distsync_sim.rabbit_cluster import RabbitCluster
from runtime_support import counter_service, eventually
from shared import endpoints
from shared.endpoints import connect_first
from shared.messaging import Outgoing, Publisher, connect
from shared.topology import declare, main_queue, service_topology
from tests.cluster.conftest import Vhost
from tests.cluster.support import on_node, publish_all

pytestmark = pytest.mark.integration


def test_three_nodes_form_one_cluster_of_their_own(rabbit: RabbitCluster):
    names = sorted(n.name for n in rabbit.nodes)
    for via in range(3):
        assert rabbit.running_nodes(via) == names
    assert not any(n.startswith("rabbit@") for n in names)


async def test_a_quorum_queue_of_the_topology_has_a_member_on_every_node(
    rabbit: RabbitCluster, vhost: Vhost
):
    svc = counter_service()
    conn = await connect(vhost.url, "test-topology")
    try:
        ch = await conn.channel()
        await declare(ch, service_topology(svc, retry_delays_s=[1]))
    finally:
        await conn.close()
    names = sorted(n.name for n in rabbit.nodes)
    assert rabbit.queue_members(vhost.name, main_queue(svc.name)) == names


async def test_a_dead_first_endpoint_is_passed_over_at_start(vhost: Vhost):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"amqp://guest:guest@127.0.0.1:{s.getsockname()[1]}/"
    urls = [dead, *endpoints.parse_endpoints(vhost.url)]
    robust = await endpoints.connect_robust(urls, name="test-start", start=0)
    try:
        assert robust.endpoint_index == 1
    finally:
        await robust.close()
    plain = await connect_first(",".join(urls))
    try:
        assert plain.url.port == URL(urls[1]).port
    finally:
        await plain.close()


async def test_a_consumer_moves_to_a_surviving_node_and_nothing_is_lost(
    rabbit: RabbitCluster, vhost: Vhost
):
    queue, n = f"failover-{uuid.uuid4().hex[:8]}", 400
    got: dict[str, int] = {}
    consumer = await connect(vhost.url, "test-consumer")
    # on the consumer's node, so the stop interrupts the publisher's confirms as well
    producer = await endpoints.connect_robust(
        endpoints.parse_endpoints(vhost.url), name="test-publisher", start=on_node(consumer)
    )
    try:
        ch = await consumer.channel()
        await ch.set_qos(prefetch_count=50)
        q = await ch.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})

        async def on_message(m: aio_pika.abc.AbstractIncomingMessage) -> None:
            got[m.body.decode()] = got.get(m.body.decode(), 0) + 1
            await m.ack()

        await q.consume(on_message)
        publisher = Publisher(producer, "test")
        items = [Outgoing("", queue, f"m-{i}".encode()) for i in range(n)]
        await publish_all(publisher, items[: n // 2])
        await eventually(lambda: _have(got, n // 2), timeout=30)

        stopped, t_stop = on_node(consumer), time.monotonic()
        rabbit.stop_node(stopped, "stop_app")
        resent = await publish_all(publisher, items[n // 2 :])
        await eventually(lambda: _have(got, n), timeout=60)
        failover = time.monotonic() - t_stop
        assert on_node(consumer) != stopped
        print(f"\nconsumer left node {stopped} for {on_node(consumer)}; all {n} in {failover:.1f}s")
        print(f"after the stop: {resent} publishes resent")
    finally:
        await consumer.close()
        await producer.close()
    assert set(got) == {f"m-{i}" for i in range(n)}


async def _have(got: dict[str, int], n: int) -> bool:
    return len(got) >= n
