"""RabbitMQ topology: exchanges, quorum queues, retry queues, dead-lettering. Idempotent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel

from shared.service import INGRESS_EXCHANGES, SERVICE_NAMES, ServiceDefinition, service_exchange

UNROUTED = "unrouted"


def dlx(service: str) -> str:
    return f"{service}.dlx"


def dlq(service: str) -> str:
    return f"{service}.dlq"


def main_queue(service: str) -> str:
    return f"{service}.main"


def dlq_lock(queue: str) -> str:
    """The exclusive queue whose holder may read `queue` (a DLQ): one reader at a time, or two
    would see and reorder each other's messages. The broker deletes it when its holder dies."""
    return f"distsync.dlq-lock.{queue}"


def partitions_exchange(service: str) -> str:
    """The direct exchange the router publishes into; routing key = the partition number.
    Only the service's own user may write it, so the consumer trusts the original exchange
    and routing key the router puts in the headers."""
    return f"{service}.partitions"


def partition_queue(service: str, index: int) -> str:
    return f"{service}.part.{index}"


def replicas_queue(service: str) -> str:
    """A queue no message reaches: every replica consumes it, so its consumer count is the
    number of replicas running (a single-active-consumer queue reports only the active one)."""
    return f"{service}.replicas"


def router_lock(service: str) -> str:
    """The exclusive queue whose holder routes `<service>.main` into the partitions: one router
    at a time keeps each aggregate's messages in order. The broker deletes it with its holder's
    connection."""
    return f"distsync.router-lock.{service}"


def retry_queue(service: str, delay_s: int) -> str:
    return f"{service}.retry.{delay_s}s"


def retry_exchange(service: str) -> str:
    """Where the service publishes a retry (direct; routing key = the retry queue's name). Its
    own exchange, because a broker user allowed the default exchange may write to any queue."""
    return f"{service}.retry"


@dataclass
class QueueSpec:
    name: str
    arguments: dict[str, Any]
    bindings: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Topology:
    """Everything one or more services need, as plain data (also used by docs and tests)."""

    exchanges: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    queues: list[QueueSpec] = field(default_factory=list)

    def queue(self, name: str) -> QueueSpec:
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)


def service_topology(
    svc: ServiceDefinition,
    *,
    delivery_limit: int = 20,
    retry_delays_s: Sequence[int] = (1, 10, 60),
    partitions: int = 1,
) -> Topology:
    t = Topology()
    t.exchanges[svc.exchange] = ("topic", {})
    t.exchanges[dlx(svc.name)] = ("fanout", {})
    t.exchanges[retry_exchange(svc.name)] = ("direct", {})
    for ex, _ in svc.bindings():
        if ex not in t.exchanges:
            args = {"alternate-exchange": UNROUTED} if ex in INGRESS_EXCHANGES else {}
            t.exchanges[ex] = ("topic", args)
    t.queues.append(
        QueueSpec(
            main_queue(svc.name),
            {
                "x-queue-type": "quorum",
                "x-delivery-limit": delivery_limit,
                "x-dead-letter-exchange": dlx(svc.name),
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
            svc.bindings(),
        )
    )
    t.queues.append(QueueSpec(dlq(svc.name), {"x-queue-type": "quorum"}, [(dlx(svc.name), "#")]))
    if partitions > 1:
        _add_partitions(t, svc.name, partitions, delivery_limit)
    for d in retry_delays_s:
        name = retry_queue(svc.name, d)
        t.queues.append(
            QueueSpec(
                name,
                {
                    "x-queue-type": "quorum",
                    "x-message-ttl": int(d * 1000),
                    # the broker dead-letters an expired retry back to the main queue itself:
                    # no user publishes to the default exchange for it
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": main_queue(svc.name),
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
                [(retry_exchange(svc.name), name)],
            )
        )
    return t


def _add_partitions(t: Topology, service: str, count: int, delivery_limit: int) -> None:
    """The partitions of a service's queue: single-active-consumer quorum queues fed by the
    router through a direct exchange, and the queue whose consumers count the replicas."""
    t.exchanges[partitions_exchange(service)] = ("direct", {})
    for i in range(count):
        t.queues.append(
            QueueSpec(
                partition_queue(service, i),
                {
                    "x-queue-type": "quorum",
                    "x-single-active-consumer": True,
                    "x-delivery-limit": delivery_limit,
                    "x-dead-letter-exchange": dlx(service),
                    "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish",
                },
                [(partitions_exchange(service), str(i))],
            )
        )
    t.queues.append(QueueSpec(replicas_queue(service), {"x-queue-type": "quorum"}))


def full_topology(
    services: Iterable[ServiceDefinition],
    *,
    delivery_limit: int = 20,
    retry_delays_s: Sequence[int] = (1, 10, 60),
    partitions: dict[str, int] | None = None,
) -> Topology:
    """Ingress exchanges, the unrouted catch-all, and every service's own objects."""
    t = Topology()
    t.exchanges[UNROUTED] = ("fanout", {})
    for ex in INGRESS_EXCHANGES:
        t.exchanges[ex] = ("topic", {"alternate-exchange": UNROUTED})
    t.queues.append(QueueSpec(UNROUTED, {"x-queue-type": "quorum"}, [(UNROUTED, "#")]))
    for svc in services:
        st = service_topology(
            svc,
            delivery_limit=delivery_limit,
            retry_delays_s=retry_delays_s,
            partitions=(partitions or {}).get(svc.name, 1),
        )
        for name, spec in st.exchanges.items():
            t.exchanges.setdefault(name, spec)
        t.queues.extend(st.queues)
    for name in list(t.exchanges):
        if name.endswith(".events") and name not in INGRESS_EXCHANGES:
            t.exchanges[name] = ("topic", {})
    return t


async def declare(channel: AbstractChannel, topo: Topology) -> None:
    """Declare exchanges, queues and bindings; safe to run any number of times."""
    exchanges: dict[str, aio_pika.abc.AbstractExchange] = {}
    order = sorted(topo.exchanges, key=lambda n: 0 if n == UNROUTED else 1)
    for name in order:
        kind, args = topo.exchanges[name]
        exchanges[name] = await channel.declare_exchange(
            name, aio_pika.ExchangeType(kind), durable=True, arguments=args or None
        )
    for q in topo.queues:
        queue = await channel.declare_queue(q.name, durable=True, arguments=q.arguments)
        for ex, key in q.bindings:
            target = exchanges.get(ex) or await channel.declare_exchange(
                ex, aio_pika.ExchangeType.TOPIC, durable=True
            )
            await queue.bind(target, routing_key=key)


def all_services() -> list[ServiceDefinition]:
    """Every service installed in this environment (entry point group `distsync.services`)."""
    from importlib.metadata import entry_points

    out = [ep.load() for ep in entry_points(group="distsync.services")]
    order = {n: i for i, n in enumerate(SERVICE_NAMES)}
    return sorted(out, key=lambda s: (order.get(s.name, len(order)), s.name))


__all__ = [
    "UNROUTED",
    "Topology",
    "all_services",
    "declare",
    "dlq",
    "dlq_lock",
    "dlx",
    "full_topology",
    "main_queue",
    "partition_queue",
    "partitions_exchange",
    "replicas_queue",
    "retry_exchange",
    "retry_queue",
    "router_lock",
    "service_exchange",
    "service_topology",
]
