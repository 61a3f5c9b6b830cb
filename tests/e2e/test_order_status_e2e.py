"""Order-status end to end: an order's events (created, partly allocated, backordered, allocated,
partly picked, packed, shipped in two shipments) published through the broker, some late and
some twice, yield the right `GET /v1/orders/{id}` and `GET /v1/orders?status=...`; an unmapped
native status lands on the timeline as unmapped and keeps the status. Real broker and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e

LOC = "DC-EAST"
ERP, WMS = "erp/main", "wms/dc-east"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ts(value: str) -> datetime:
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def test_an_orders_events_late_and_twice_yield_its_status_lines_shipments_and_timeline(
    cluster,
):
    os_ = (await cluster.start("order-status"))["order-status"]
    changes = await cluster.listen("order-status.events", "order.status_changed")
    oid, a, b = uid("ORD"), uid("SKU-A"), uid("SKU-B")
    sh1, sh2 = uid("SH"), uid("SH")
    tn1, tn2 = uuid.uuid4().hex[:12].upper(), uuid.uuid4().hex[:12].upper()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)

    def at(sec: float) -> datetime:
        return t0 + timedelta(seconds=sec)

    def shipped(shipment_id: str, tn: str, line_id: str, sku: str, qty: int) -> dict[str, Any]:
        return {
            "shipment_id": shipment_id,
            "order_id": oid,
            "location": LOC,
            "carrier": "ups",
            "tracking_number": tn,
            "lines": [{"line_id": line_id, "sku": sku, "qty": qty}],
        }

    # event time order (seconds after t0), exchange, type, data, source
    e = {
        1: (
            "erp.events",
            "order.created",
            {
                "order_id": oid,
                "channel": "web",
                "customer_id": "C-42",
                "lines": [
                    {"line_id": "1", "sku": a, "qty": 10},
                    {"line_id": "2", "sku": b, "qty": 4},
                ],
                "promised_date": "2026-12-24",
            },
            ERP,
        ),
        2: (
            "erp.events",
            "order.allocated",
            {"order_id": oid, "lines": [{"line_id": "1", "sku": a, "location": LOC, "qty": 6}]},
            ERP,
        ),
        3: (
            "erp.events",
            "order.backordered",
            {
                "order_id": oid,
                "lines": [{"line_id": "1", "sku": a, "qty": 4}],
                "expected_date": "2026-12-01",
            },
            ERP,
        ),
        4: (
            "erp.events",
            "order.allocated",
            {
                "order_id": oid,
                "lines": [
                    {"line_id": "1", "sku": a, "location": LOC, "qty": 4},
                    {"line_id": "2", "sku": b, "location": LOC, "qty": 4},
                ],
            },
            ERP,
        ),
        5: (
            "wms.events",
            "pick.completed",
            {
                "order_id": oid,
                "location": LOC,
                "lines": [{"line_id": "1", "sku": a, "qty_picked": 6}],
            },
            WMS,
        ),
        6: (
            "wms.events",
            "pick.completed",
            {
                "order_id": oid,
                "location": LOC,
                "lines": [
                    {"line_id": "1", "sku": a, "qty_picked": 4},
                    {"line_id": "2", "sku": b, "qty_picked": 4},
                ],
            },
            WMS,
        ),
        7: (
            "wms.events",
            "pack.completed",
            {"order_id": oid, "shipment_id": sh1, "location": LOC},
            WMS,
        ),
        8: ("wms.events", "shipment.shipped", shipped(sh1, tn1, "1", a, 10), WMS),
        9: (
            "wms.events",
            "pack.completed",
            {"order_id": oid, "shipment_id": sh2, "location": LOC},
            WMS,
        ),
        10: ("wms.events", "shipment.shipped", shipped(sh2, tn2, "2", b, 4), WMS),
    }
    ids = {k: str(uuid.uuid4()) for k in e}

    async def send(k: int) -> None:
        exchange, type_, data, source = e[k]
        await cluster.publish(
            exchange, type_, data, source=source, time=at(k), id=ids[k], correlationid=oid
        )

    # arrival order: the backorder after the allocation that covers it, the first shipment
    # before its pack, the second pack last; a pick, an allocation and a shipment twice
    for k in (1, 2, 4, 5, 3, 6, 8, 5, 7, 10, 2, 9, 10):
        await send(k)

    # a second order, published after the first: once it is in, every event above has been
    # processed (one queue, in order). Its wms status is one no table knows.
    other = uid("ORD")
    await cluster.publish(
        "erp.events",
        "order.created",
        {
            "order_id": other,
            "channel": "edi",
            "customer_id": "C-7",
            "lines": [{"line_id": "1", "sku": a, "qty": 3}],
        },
        source=ERP,
        time=at(1),
        correlationid=other,
    )
    await cluster.publish(
        "erp.events",
        "order.status_reported",
        {"order_id": other, "native_status": "Credit Approved"},
        source=ERP,
        time=at(2),
        correlationid=other,
    )
    await cluster.publish(
        "wms.events",
        "order.status_reported",
        {"order_id": other, "native_status": "ZZ-MYSTERY-42"},
        source=WMS,
        time=at(3),
        correlationid=other,
    )

    async def other_done():
        o = await get_json(os_, f"/v1/orders/{other}")
        return o if o and len(o["timeline"]) == 3 else None

    o2 = await eventually(other_done)
    assert o2["status"] == "credit_approved" and ts(o2["status_at"]) == at(2)
    assert o2["native_status"] == "Credit Approved" and o2["status_source"] == ERP
    unmapped = o2["timeline"][-1]
    assert unmapped["unmapped"] is True and unmapped["native_status"] == "ZZ-MYSTERY-42"
    assert unmapped["mapping"] == "wms" and unmapped["mapped_status"] is None
    assert unmapped["status"] == "credit_approved" and unmapped["source"] == WMS
    assert ts(unmapped["at"]) == at(3)
    assert [m["status"] for m in o2["milestones"]] == ["received", "credit_approved"]
    async with os_.client() as c:
        metrics = (await c.get("/metrics")).text
    assert 'distsync_order_status_unmapped_native_statuses_total{source="wms"}' in metrics

    o = await get_json(os_, f"/v1/orders/{oid}")
    assert o["status"] == "shipped" and ts(o["status_at"]) == at(10)
    assert o["status_source"] == WMS and o["reason"] is None
    assert (o["channel"], o["customer_id"], o["promised_date"]) == ("web", "C-42", "2026-12-24")

    lines = {ln["line_id"]: ln for ln in o["lines"]}
    qty = ("ordered", "allocated", "backordered", "picked", "shipped", "delivered")
    assert tuple(lines["1"][f] for f in qty) == (10, 10, 0, 10, 10, 0)
    assert tuple(lines["2"][f] for f in qty) == (4, 4, 0, 4, 4, 0)
    assert (lines["1"]["sku"], lines["2"]["sku"]) == (a, b)

    s1, s2 = o["shipments"]
    assert (s1["shipment_id"], s1["tracking_number"], s1["carrier"]) == (sh1, tn1, "ups")
    assert (s2["shipment_id"], s2["tracking_number"], s2["carrier"]) == (sh2, tn2, "ups")
    assert s1["lines"] == [{"line_id": "1", "sku": a, "qty": 10}]
    assert s2["lines"] == [{"line_id": "2", "sku": b, "qty": 4}]
    assert (ts(s1["packed_at"]), ts(s1["shipped_at"])) == (at(7), at(8))
    assert (ts(s2["packed_at"]), ts(s2["shipped_at"])) == (at(9), at(10))

    # every event once, in event-time order, with the status after it
    timeline = o["timeline"]
    assert [x["event_id"] for x in timeline] == [ids[k] for k in sorted(e)]
    assert [ts(x["at"]) for x in timeline] == [at(k) for k in sorted(e)]
    assert [x["status"] for x in timeline] == [
        "received",
        "partially_allocated",
        "backordered",
        "allocated",
        "allocated",  # a partial pick keeps allocated
        "picked",
        "packed",
        "partially_shipped",
        "partially_shipped",  # packing the second shipment does not move it back
        "shipped",
    ]
    assert [x["source"] for x in timeline] == [ERP] * 4 + [WMS] * 6
    arrived = {x["event_id"]: ts(x["received_at"]) for x in timeline}
    assert all(arrived[ids[k]] > at(k) for k in e)
    # arrival is not event order: the backorder came with or after the allocation covering it,
    # the second pack with or after its shipment (one batch shares an arrival time)
    assert arrived[ids[3]] >= arrived[ids[4]] and arrived[ids[9]] >= arrived[ids[10]]

    milestones = [(m["status"], ts(m["at"]), m["source"]) for m in o["milestones"]]
    assert milestones == [
        ("received", at(1), ERP),
        ("partially_allocated", at(2), ERP),
        ("backordered", at(3), ERP),
        ("allocated", at(4), ERP),
        ("picked", at(6), WMS),
        ("packed", at(7), WMS),
        ("partially_shipped", at(8), WMS),
        ("shipped", at(10), WMS),
    ]

    async def last_change():
        mine = [x["data"] for x in changes if x["data"]["order_id"] == oid]
        return mine if mine and mine[-1]["status"] == "shipped" else None

    mine = await eventually(last_change)
    assert mine[-1]["previous_status"] == "partially_shipped"
    assert ts(mine[-1]["at"]) == at(10) and mine[-1]["source"] == WMS
    assert mine[0]["status"] == "received" and mine[0]["previous_status"] is None

    # a late, older native status: it lands in its place and the order stays shipped
    late = await cluster.publish(
        "wms.events",
        "order.status_reported",
        {"order_id": oid, "native_status": "waved"},
        source=WMS,
        time=at(4.5),
        correlationid=oid,
    )

    async def late_on_timeline():
        o = await get_json(os_, f"/v1/orders/{oid}")
        return o if o and len(o["timeline"]) == len(e) + 1 else None

    o = await eventually(late_on_timeline)
    assert o["status"] == "shipped" and ts(o["status_at"]) == at(10)
    entry = o["timeline"][4]
    assert (entry["event_id"], entry["native_status"]) == (late, "waved")
    assert (entry["mapped_status"], entry["status"], entry["unmapped"]) == (
        "allocated",
        "allocated",
        False,
    )
    assert len(o["milestones"]) == len(milestones)

    # by status: each order under its own status only
    async def listed(query: str) -> list[str]:
        page = await get_json(os_, f"/v1/orders?{query}")
        return [x["order_id"] for x in page["items"]]

    assert await listed("status=shipped") == [oid]
    assert await listed("status=credit_approved") == [other]
    assert await listed("status=backordered") == []
    assert sorted(await listed("limit=10")) == sorted([oid, other])
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert await listed(f"status=shipped&since={future}") == []
    summary = (await get_json(os_, "/v1/orders?status=shipped"))["items"][0]
    assert (summary["status"], summary["channel"], summary["customer_id"]) == (
        "shipped",
        "web",
        "C-42",
    )
    async with os_.client() as c:
        bad = await c.get("/v1/orders", params={"status": "teleported"})
        naive = await c.get("/v1/orders", params={"since": "2026-11-27T10:15:00"})
        missing = await c.get(f"/v1/orders/{uid('ORD')}")
    assert bad.status_code == 422 and "teleported" in bad.json()["detail"]
    assert naive.status_code == 422
    assert missing.status_code == 404 and "not known" in missing.json()["detail"]
