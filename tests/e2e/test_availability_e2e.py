"""Availability end to end: contract events on erp/wms exchanges change the HTTP answer and
emit availability.changed, through the real broker and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e


def sku() -> str:
    return f"SKU-{uuid.uuid4().hex[:8]}"


async def position(av, s, loc):
    return await get_json(av, f"/v1/availability/{s}/{loc}")


async def test_adjust_allocate_quarantine_ship_transfer_and_count_paths(cluster):
    av = (await cluster.start("availability"))["availability"]
    changed = await cluster.listen("availability.events", "availability.changed")
    variances = await cluster.listen("availability.events", "availability.variance_detected")
    s = sku()
    t0 = datetime.now(UTC) - timedelta(minutes=10)

    def at(m: int) -> datetime:
        return t0 + timedelta(seconds=m)

    wms, erp = "wms/dc-east", "erp/main"
    await cluster.publish(
        "wms.events",
        "inventory.adjusted",
        {"location": "DC-EAST", "sku": s, "qty_delta": 100, "reason_code": "INIT", "user": "t"},
        source=wms,
        time=at(1),
    )
    await cluster.publish(
        "erp.events",
        "order.allocated",
        {
            "order_id": "O-1",
            "lines": [{"line_id": "1", "sku": s, "location": "DC-EAST", "qty": 30}],
        },
        source=erp,
        time=at(2),
        correlationid="O-1",
    )
    await cluster.publish(
        "wms.events",
        "inventory.quarantined",
        {"location": "DC-EAST", "sku": s, "qty": 5, "reason_code": "QA"},
        source=wms,
        time=at(3),
    )
    await cluster.publish(
        "wms.events",
        "shipment.shipped",
        {
            "shipment_id": "SH-1",
            "order_id": "O-1",
            "location": "DC-EAST",
            "carrier": "ups",
            "tracking_number": "1Z1",
            "lines": [{"line_id": "1", "sku": s, "qty": 10}],
        },
        source=wms,
        time=at(4),
        correlationid="O-1",
    )
    await cluster.publish(
        "wms.events",
        "transfer.shipped",
        {
            "transfer_id": "T-1",
            "from_location": "DC-EAST",
            "to_location": "BR-NORTH",
            "lines": [{"sku": s, "qty": 20}],
        },
        source=wms,
        time=at(5),
    )

    async def east_done():
        p = await position(av, s, "DC-EAST")
        return p if p and p["on_hand"] == 70 else None

    p = await eventually(east_done)
    assert (p["allocated"], p["quarantined"]) == (20, 5)
    assert p["available_to_sell"] == 45 and p["available_to_promise"] == 45
    north = await eventually(lambda: position(av, s, "BR-NORTH"))
    assert north["in_transit"] == 20 and north["available_to_promise"] == 20

    await cluster.publish(
        "wms.events",
        "transfer.received",
        {"transfer_id": "T-1", "to_location": "BR-NORTH", "lines": [{"sku": s, "qty": 20}]},
        source=wms,
        time=at(6),
    )

    async def north_received():
        p = await position(av, s, "BR-NORTH")
        return p if p and p["on_hand"] == 20 and p["in_transit"] == 0 else None

    await eventually(north_received)

    # a cycle count at t=4.5 s: movements after it (the transfer at 5 s) still apply
    await cluster.publish(
        "wms.events",
        "inventory.counted",
        {"location": "DC-EAST", "sku": s, "counted_qty": 88, "user": "c"},
        source=wms,
        time=at(4) + timedelta(milliseconds=500),
    )

    async def counted():
        p = await position(av, s, "DC-EAST")
        return p if p and p["on_hand"] == 68 else None

    await eventually(counted)
    v = await eventually(lambda: _first(variances))
    assert v["data"]["expected_on_hand"] == 90 and v["data"]["counted_on_hand"] == 88
    assert v["data"]["variance"] == -2

    total = await get_json(av, f"/v1/availability/{s}")
    assert total["total"]["on_hand"] == 88
    assert {loc["location"] for loc in total["locations"]} == {"DC-EAST", "BR-NORTH"}

    mine = [e for e in changed if e["data"]["sku"] == s]
    versions = [e["data"]["version"] for e in mine if e["data"]["location"] == "DC-EAST"]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert all(e["source"].startswith("availability/") for e in mine)
    assert await get_json(av, f"/v1/availability/{sku()}", status=404)


async def test_a_case_quantity_waits_in_the_dlq_until_its_conversion_arrives_then_replays(cluster):
    """After its retries (here max_attempts=2: one delayed retry), with the reason kept."""
    av = (await cluster.start("availability", availability={"max_attempts": 2}))["availability"]
    s = sku()
    adjusted = {
        "location": "DC-WEST",
        "sku": s,
        "qty_delta": 2,
        "uom": "CS",
        "reason_code": "FOUND",
        "user": "t",
    }
    mid = await cluster.publish("wms.events", "inventory.adjusted", adjusted, source="wms/dc-west")
    from runtime_support import drain_queue

    async def dead_lettered():
        got = await drain_queue(cluster.amqp_url, "availability.dlq")
        return [m for m in got if m.message_id == mid]

    [m] = await eventually(dead_lettered)
    h = m.headers
    assert (h["failure-kind"], h["exception-type"], h["attempts"]) == ("rejected", "UnknownUnit", 2)
    assert h["exception-message"] == (
        f"unknown unit of measure: no conversion from CS to base unit for {s}; "
        "publish item.updated then replay"
    )
    assert await get_json(av, f"/v1/availability/{s}/DC-WEST", status=404)

    await cluster.publish(
        "erp.events",
        "item.updated",
        {"sku": s, "base_uom": "EA", "uom_conversions": {"CS": 12}},
        source="erp/main",
    )
    # replay: back to the original exchange and routing key
    await cluster.publish_raw(
        h["original-exchange"], h["original-routing-key"], m.body, message_id=m.message_id
    )

    async def converted():
        p = await position(av, s, "DC-WEST")
        return p if p and p["on_hand"] == 24 else None

    await eventually(converted)


async def _retried(av) -> float:
    """How many inventory.adjusted messages availability has scheduled for a delayed retry."""
    async with av.client() as c:
        text = (await c.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for smp in family.samples:
            labels = smp.labels
            if (
                smp.name == "distsync_messages_consumed_total"
                and labels.get("service") == "availability"
                and labels.get("type") == "inventory.adjusted"
                and labels.get("outcome") == "retried"
            ):
                return smp.value
    return 0.0


async def test_a_case_quantity_handled_before_its_conversion_is_applied_by_a_retry(cluster):
    """Two replicas: the item.updated can still be in the other's hands; no DLQ, no replay."""
    av = (await cluster.start("availability"))["availability"]
    s = sku()
    before = await _retried(av)
    adjusted = {"location": "DC-WEST", "sku": s, "qty_delta": 2, "uom": "CS"}
    mid = await cluster.publish("wms.events", "inventory.adjusted", adjusted, source="wms/dc-west")

    async def retried():
        return await _retried(av) > before

    await eventually(retried)
    await cluster.publish(
        "erp.events",
        "item.updated",
        {"sku": s, "base_uom": "EA", "uom_conversions": {"CS": 12}},
        source="erp/main",
    )

    async def converted():
        p = await position(av, s, "DC-WEST")
        return p if p and p["on_hand"] == 24 else None

    await eventually(converted)
    from runtime_support import drain_queue

    assert mid not in {
        m.message_id for m in await drain_queue(cluster.amqp_url, "availability.dlq")
    }


async def _first(xs):
    return xs[0] if xs else None
