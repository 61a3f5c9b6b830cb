"""Returns, availability and order-status end to end: an RMA authorized, received and inspected
(restock 3, scrap 2) moves availability exactly as the contract's section 5 says (expected
supply while authorized, on hand and quarantined once received, restock releases, scrap
removes), visible on both HTTP APIs, and the order shows `returned`; through the real broker
and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e

LOC = "DC-EAST"
ERP, WMS, WEB = "erp/main", "wms/dc-east", "commerce/web"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ts(value: str) -> datetime:
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def test_authorize_receive_and_inspect_move_availability_and_the_order_ends_returned(
    cluster,
):
    running = await cluster.start("returns", "availability", "order-status")
    rs, av, os_ = running["returns"], running["availability"], running["order-status"]
    status_changes = await cluster.listen("returns.events", "return.status_changed")
    s, order_id, rma_id, shipment_id = uid("SKU"), uid("ORD"), uid("RMA"), uid("SH")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)

    def at(sec: int) -> datetime:
        return t0 + timedelta(seconds=sec)

    async def position():
        return await get_json(av, f"/v1/availability/{s}/{LOC}")

    async def rma():
        return await get_json(rs, f"/v1/returns/{rma_id}")

    async def order():
        return await get_json(os_, f"/v1/orders/{order_id}")

    # the order's own life first: 10 on hand, 5 ordered, allocated, picked, packed, shipped
    await cluster.publish(
        "wms.events",
        "inventory.adjusted",
        {"location": LOC, "sku": s, "qty_delta": 10, "reason_code": "INIT", "user": "t"},
        source=WMS,
        time=at(1),
    )
    flow = [
        (
            "erp.events",
            "order.created",
            {
                "order_id": order_id,
                "channel": "web",
                "customer_id": "C-1",
                "lines": [{"line_id": "1", "sku": s, "qty": 5}],
            },
            ERP,
        ),
        (
            "erp.events",
            "order.allocated",
            {
                "order_id": order_id,
                "lines": [{"line_id": "1", "sku": s, "location": LOC, "qty": 5}],
            },
            ERP,
        ),
        (
            "wms.events",
            "pick.completed",
            {
                "order_id": order_id,
                "location": LOC,
                "lines": [{"line_id": "1", "sku": s, "qty_picked": 5}],
            },
            WMS,
        ),
        (
            "wms.events",
            "pack.completed",
            {"order_id": order_id, "shipment_id": shipment_id, "location": LOC},
            WMS,
        ),
        (
            "wms.events",
            "shipment.shipped",
            {
                "shipment_id": shipment_id,
                "order_id": order_id,
                "location": LOC,
                "carrier": "ups",
                "tracking_number": uid("1Z").upper(),
                "lines": [{"line_id": "1", "sku": s, "qty": 5}],
            },
            WMS,
        ),
    ]
    for i, (exchange, type_, data, source) in enumerate(flow, start=2):
        await cluster.publish(
            exchange, type_, data, source=source, time=at(i), correlationid=order_id
        )

    async def shipped():
        o, p = await order(), await position()
        ok = o and p and o["status"] == "shipped" and (p["on_hand"], p["allocated"]) == (5, 0)
        return (o, p) if ok else None

    o, p = await eventually(shipped)
    assert [(sh["shipment_id"], sh["lines"][0]["qty"]) for sh in o["shipments"]] == [
        (shipment_id, 5)
    ]
    assert (p["quarantined"], p["returns_pending"], p["available_to_sell"]) == (0, 0, 5)

    # authorized: 5 units expected back, counted as expected supply (returns_pending)
    await cluster.publish(
        "commerce.events",
        "return.authorized",
        {
            "rma_id": rma_id,
            "order_id": order_id,
            "location": LOC,
            "lines": [{"line_id": "1", "sku": s, "qty": 5, "reason": "wrong size"}],
        },
        source=WEB,
        time=at(10),
        correlationid=rma_id,
    )

    async def authorized():
        p, r = await position(), await rma()
        return (p, r) if p and r and p["returns_pending"] == 5 else None

    p, r = await eventually(authorized)
    assert (p["on_hand"], p["quarantined"], p["allocated"]) == (5, 0, 0)
    assert p["available_to_sell"] == 5 and p["available_to_promise"] == 10
    assert r["status"] == "authorized" and r["authorized"] is True
    assert r["order_id"] == order_id and r["location"] == LOC
    assert [(ln["sku"], ln["qty"]) for ln in r["lines"]] == [(s, 5)]
    assert r["totals"]["authorized"] == 5 and r["totals"]["pending"] == 5
    assert r["totals"]["received"] == 0

    async def rma_status_seen(status: str):
        return any(
            e["data"]["rma_id"] == rma_id and e["data"]["status"] == status for e in status_changes
        )

    # the order hears of the authorization but stays shipped: the goods are not back yet
    await eventually(lambda: rma_status_seen("authorized"))

    async def authorization_on_timeline():
        o = await order()
        return o if o and any(e["native_status"] == "authorized" for e in o["timeline"]) else None

    o = await eventually(authorization_on_timeline)
    assert o["status"] == "shipped"

    # received: on hand and held in quarantine until inspected; no longer expected
    await cluster.publish(
        "wms.events",
        "return.received",
        {"rma_id": rma_id, "location": LOC, "lines": [{"sku": s, "qty": 5}]},
        source=WMS,
        time=at(20),
        correlationid=rma_id,
    )

    async def received():
        p = await position()
        ok = p and (p["on_hand"], p["quarantined"], p["returns_pending"]) == (10, 5, 0)
        return p if ok else None

    p = await eventually(received)
    assert p["available_to_sell"] == 5 and p["available_to_promise"] == 5
    r = await rma()
    assert r["status"] == "received"
    assert (r["totals"]["received"], r["totals"]["awaiting_inspection"]) == (5, 5)
    assert (r["totals"]["pending"], r["totals"]["excess"]) == (0, 0)

    async def order_returned():
        o = await order()
        return o if o and o["status"] == "returned" else None

    o = await eventually(order_returned)
    assert ts(o["status_at"]) == at(20)
    assert o["milestones"][-1]["status"] == "returned"
    assert o["milestones"][-1]["native_status"] == "received"

    # inspected: restock 3 releases their quarantine, scrap 2 removes them
    await cluster.publish(
        "wms.events",
        "return.inspected",
        {
            "rma_id": rma_id,
            "location": LOC,
            "lines": [
                {"sku": s, "qty": 3, "disposition": "restock"},
                {"sku": s, "qty": 2, "disposition": "scrap"},
            ],
        },
        source=WMS,
        time=at(30),
        correlationid=rma_id,
    )

    async def inspected():
        p = await position()
        ok = p and (p["on_hand"], p["quarantined"]) == (8, 0)
        return p if ok else None

    p = await eventually(inspected)
    assert (p["allocated"], p["returns_pending"], p["inbound"]) == (0, 0, 0)
    assert p["available_to_sell"] == 8 and p["available_to_promise"] == 8
    r = await rma()
    assert r["status"] == "completed"
    assert r["dispositions"] == {"restock": 3, "refurbish": 0, "scrap": 2, "return_to_vendor": 0}
    assert (r["totals"]["inspected"], r["totals"]["awaiting_inspection"]) == (5, 0)
    [item] = r["items"]
    assert (item["sku"], item["location"], item["received"], item["inspected"]) == (s, LOC, 5, 5)
    assert ts(item["first_received_at"]) == at(20)
    statuses = [h["status"] for h in r["history"] if h["kind"] == "status"]
    assert statuses == ["authorized", "received", "completed"]
    assert r["flags"] == []

    # the order heard the whole RMA and stays returned
    await eventually(lambda: rma_status_seen("completed"))

    async def completion_on_timeline():
        o = await order()
        done = o and any(e["native_status"] == "completed" for e in o["timeline"])
        return o if done else None

    o = await eventually(completion_on_timeline)
    assert o["status"] == "returned"
    returns = [e for e in o["timeline"] if e["type"] == "return.status_changed"]
    assert [e["native_status"] for e in returns] == ["authorized", "received", "completed"]
    assert [e["mapped_status"] for e in returns] == [None, "returned", "returned"]
    assert [e["status"] for e in returns] == ["shipped", "returned", "returned"]
    milestones = [m["status"] for m in o["milestones"]]
    assert milestones == ["received", "allocated", "picked", "packed", "shipped", "returned"]
    assert [e["data"]["status"] for e in status_changes if e["data"]["rma_id"] == rma_id] == [
        "authorized",
        "received",
        "completed",
    ]

    assert await get_json(rs, f"/v1/returns/{uid('RMA')}", status=404)
