"""A CloudEvent's `type` must equal its routing key, on an exchange that carries that type.
Otherwise a publisher allowed to write only `carrier.events` or `wms.events` could make a
service apply an event only the ERP may send. Real broker, real database, real services."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.envelope import build
from tests.e2e.dlq_tools import purged, shown
from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e

LOC = "DC-EAST"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_a_type_other_than_the_routing_key_is_dead_lettered_and_changes_nothing(cluster):
    run = await cluster.start("order-status", "availability")
    os_, av = run["order-status"], run["availability"]
    oid, s = uid("ORD"), uid("SKU")
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    await cluster.publish(
        "erp.events",
        "order.created",
        {
            "order_id": oid,
            "channel": "web",
            "customer_id": "C-1",
            "lines": [{"line_id": "1", "sku": s, "qty": 2}],
        },
        source="erp/main",
        time=t0,
        correlationid=oid,
    )
    await cluster.publish(
        "wms.events",
        "inventory.adjusted",
        {"location": LOC, "sku": s, "qty_delta": 10, "reason_code": "INIT", "user": "t"},
        source="wms/dc-east",
        time=t0,
    )

    # a carrier adapter may publish only on carrier.events: it sends an ERP-only type under an
    # allowed routing key
    cancel = build(
        "order.cancelled", {"order_id": oid}, source="carrier/ups", time=t0 + timedelta(seconds=1)
    )
    await cluster.publish_raw(
        "carrier.events", "order.status_reported", cancel.to_json_bytes(), message_id=cancel.id
    )
    # the WMS may publish on wms.events: it sends an allocation under an adjustment's key
    alloc = build(
        "order.allocated",
        {"order_id": oid, "lines": [{"line_id": "1", "sku": s, "location": LOC, "qty": 4}]},
        source="wms/dc-east",
        time=t0 + timedelta(seconds=1),
    )
    await cluster.publish_raw(
        "wms.events", "inventory.adjusted", alloc.to_json_bytes(), message_id=alloc.id
    )

    def in_dlq(service: str, mid: str):
        return lambda: shown(cluster.amqp_url, cluster.mongodb_url, service, mid)

    c = (await eventually(in_dlq("order-status", cancel.id), timeout=60))["headers"]
    assert c["failure-kind"] == "contract_violation"
    assert c["exception-message"] == (
        "type 'order.cancelled' does not match the routing key 'order.status_reported' "
        "it was published with"
    )
    assert c["original-exchange"] == "carrier.events"
    a = (await eventually(in_dlq("availability", alloc.id), timeout=60))["headers"]
    assert a["failure-kind"] == "contract_violation"
    assert (
        "'order.allocated' does not match the routing key 'inventory.adjusted'"
        in (a["exception-message"])
    )

    # the services go on: later valid events are applied, the forged ones had no effect
    await cluster.publish(
        "wms.events",
        "inventory.adjusted",
        {"location": LOC, "sku": s, "qty_delta": 5, "reason_code": "FOUND", "user": "t"},
        source="wms/dc-east",
        time=t0 + timedelta(seconds=2),
    )
    await cluster.publish(
        "erp.events",
        "order.allocated",
        {"order_id": oid, "lines": [{"line_id": "1", "sku": s, "location": LOC, "qty": 2}]},
        source="erp/main",
        time=t0 + timedelta(seconds=3),
        correlationid=oid,
    )

    async def settled():
        p = await get_json(av, f"/v1/availability/{s}/{LOC}")
        return p if p and p["on_hand"] == 15 and p["allocated"] == 2 else None

    await eventually(settled)

    async def allocated():
        o = await get_json(os_, f"/v1/orders/{oid}")
        return o if o and o["status"] == "allocated" else None

    await eventually(allocated)

    # on-call staff can remove them
    await purged(cluster.amqp_url, cluster.mongodb_url, "order-status", cancel.id)
    await purged(cluster.amqp_url, cluster.mongodb_url, "availability", alloc.id)


async def test_a_type_the_exchange_does_not_carry_is_dead_lettered(cluster):
    av = (await cluster.start("availability"))["availability"]
    s = uid("SKU")
    # the type equals the routing key, but receipt.confirmed is accepted only from the receipt
    # service's own exchange; the test binds it on wms.events as a misconfigured broker might
    import aio_pika

    conn = await aio_pika.connect(cluster.amqp_url)
    try:
        ch = await conn.channel()
        q = await ch.get_queue("availability.main", ensure=False)
        await q.bind("wms.events", "receipt.confirmed")
    finally:
        await conn.close()
    ev = build(
        "receipt.confirmed",
        {
            "receipt_id": uid("R"),
            "location": LOC,
            "lines": [{"sku": s, "qty_accepted": 50, "qty_quarantined": 0}],
        },
        source="wms/dc-east",
    )
    await cluster.publish_raw(
        "wms.events", "receipt.confirmed", ev.to_json_bytes(), message_id=ev.id
    )

    m = await eventually(
        lambda: shown(cluster.amqp_url, cluster.mongodb_url, "availability", ev.id), timeout=60
    )
    assert m["headers"]["failure-kind"] == "contract_violation"
    assert "not accepted from exchange 'wms.events'" in m["headers"]["exception-message"]
    assert await get_json(av, f"/v1/availability/{s}/{LOC}", status=404) is not None
