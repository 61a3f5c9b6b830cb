from __future__ import annotations

from pydantic import BaseModel

from shared.service import Route, ServiceDefinition
from shared.topology import (
    UNROUTED,
    full_topology,
    retry_exchange,
    retry_queue,
    service_topology,
)


class D(BaseModel):
    x: int


async def _noop(msg, uow):
    return None


SVC = ServiceDefinition(
    name="demo",
    routes=(
        Route("a.happened", D, _noop, ("wms.events", "erp.events")),
        Route("b.happened", D, _noop, ("receipt.events",)),
    ),
)


def test_the_main_queue_is_a_quorum_queue_with_delivery_limit_and_at_least_once_dead_lettering():
    q = service_topology(SVC, delivery_limit=7).queue("demo.main")
    assert q.arguments == {
        "x-queue-type": "quorum",
        "x-delivery-limit": 7,
        "x-dead-letter-exchange": "demo.dlx",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    assert set(q.bindings) == {
        ("wms.events", "a.happened"),
        ("erp.events", "a.happened"),
        ("receipt.events", "b.happened"),
    }


def test_retry_queues_wait_then_dead_letter_back_to_the_main_queue():
    t = service_topology(SVC, retry_delays_s=(1, 10))
    r = t.queue("demo.retry.10s")
    assert r.arguments["x-message-ttl"] == 10000
    assert r.arguments["x-dead-letter-exchange"] == ""
    assert r.arguments["x-dead-letter-routing-key"] == "demo.main"
    assert t.queue("demo.dlq").bindings == [("demo.dlx", "#")]


def test_retries_go_through_the_services_own_exchange_never_the_default_one():
    """A broker user allowed the default exchange could write into any queue by its name."""
    t = service_topology(SVC, retry_delays_s=(1, 10))
    assert retry_exchange("demo") == "demo.retry"
    assert t.exchanges["demo.retry"] == ("direct", {})
    for delay in (1, 10):
        name = retry_queue("demo", delay)
        assert t.queue(name).bindings == [("demo.retry", name)]
    assert full_topology([SVC]).exchanges["demo.retry"] == ("direct", {})


def test_ingress_exchanges_have_the_unrouted_alternate_exchange_and_service_ones_do_not():
    t = full_topology([SVC])
    assert t.exchanges["wms.events"] == ("topic", {"alternate-exchange": UNROUTED})
    assert t.exchanges["receipt.events"] == ("topic", {})
    assert t.exchanges[UNROUTED][0] == "fanout"
    assert t.queue(UNROUTED).bindings == [(UNROUTED, "#")]
