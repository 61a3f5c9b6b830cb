"""Receipt and availability end to end: a released purchase order raises `inbound`, a checked
warehouse receipt moves it to `on_hand` (damaged and over-tolerance units quarantined), as the
contract's section 5 says, visible on both services' HTTP APIs, through the real broker and
database. A receipt delivered twice is counted once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e

LOC = "DC-EAST"
ERP, WMS = "erp/main", "wms/dc-east"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def position(av, s, loc=LOC):
    return await get_json(av, f"/v1/availability/{s}/{loc}")


def line(po: dict, line_id: str) -> dict:
    return next(ln for ln in po["lines"] if ln["line_id"] == line_id)


async def test_a_released_po_raises_inbound_and_a_checked_receipt_moves_it_to_on_hand_and_quarantine(
    cluster,
):
    running = await cluster.start("receipt", "availability")
    rc, av = running["receipt"], running["availability"]
    confirmed = await cluster.listen("receipt.events", "receipt.confirmed")
    exceptions = await cluster.listen("receipt.events", "receipt.exception")
    po_id, a, b = uid("PO"), uid("SKU-A"), uid("SKU-B")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)

    # line 1: 100 of A with 10 % tolerance (110 accepted at most); line 2: 50 of B, no tolerance
    await cluster.publish(
        "erp.events",
        "purchase_order.released",
        {
            "po_id": po_id,
            "supplier_id": "SUP-1",
            "location": LOC,
            "expected_date": "2026-12-01",
            "lines": [
                {"line_id": "1", "sku": a, "qty": 100, "over_receipt_tolerance_pct": 10},
                {"line_id": "2", "sku": b, "qty": 50},
            ],
        },
        source=ERP,
        time=t0,
        correlationid=po_id,
    )

    async def inbound_raised():
        pa, pb = await position(av, a), await position(av, b)
        return (pa, pb) if pa and pb and pa["inbound"] == 100 and pb["inbound"] == 50 else None

    pa, pb = await eventually(inbound_raised)
    for p in (pa, pb):
        assert (p["on_hand"], p["quarantined"], p["available_to_sell"]) == (0, 0, 0)
    assert pa["available_to_promise"] == 100 and pb["available_to_promise"] == 50
    po = await get_json(rc, f"/v1/purchase-orders/{po_id}")
    assert po["status"] == "open" and po["released"] is True
    assert (line(po, "1")["ordered"], line(po, "1")["expected"]) == (100, 100)
    assert (line(po, "2")["ordered"], line(po, "2")["expected"]) == (50, 50)

    # 120 of A arrive, 5 of them damaged: 115 good, 110 accepted, 5 over tolerance;
    # 20 of B arrive, all accepted
    receipt = {
        "receipt_id": uid("RCV"),
        "location": LOC,
        "po_id": po_id,
        "lines": [
            {"po_line_id": "1", "sku": a, "qty_received": 120, "qty_damaged": 5},
            {"po_line_id": "2", "sku": b, "qty_received": 20},
        ],
    }
    first_id = await cluster.publish(
        "wms.events",
        "receipt.recorded",
        receipt,
        source=WMS,
        time=t0 + timedelta(seconds=10),
        correlationid=po_id,
    )

    async def received():
        pa, pb = await position(av, a), await position(av, b)
        return (pa, pb) if pa and pb and pa["on_hand"] == 120 and pb["on_hand"] == 20 else None

    pa, pb = await eventually(received)
    # contract §5: on_hand += accepted + quarantined, quarantined += quarantined,
    # inbound = max(0, ordered - received) per line
    assert (pa["quarantined"], pa["inbound"]) == (10, 0)
    assert pa["available_to_sell"] == 110 and pa["available_to_promise"] == 110
    assert (pb["quarantined"], pb["inbound"]) == (0, 30)
    assert pb["available_to_sell"] == 20 and pb["available_to_promise"] == 50

    po = await get_json(rc, f"/v1/purchase-orders/{po_id}")
    assert po["status"] == "partially_received"
    l1, l2 = line(po, "1"), line(po, "2")
    assert (l1["received"], l1["accepted"], l1["quarantined"], l1["damaged"]) == (120, 110, 10, 5)
    assert l1["expected"] == 0
    assert (l2["received"], l2["accepted"], l2["quarantined"], l2["expected"]) == (20, 20, 0, 30)
    assert [r["receipt_id"] for r in po["receipts"]] == [receipt["receipt_id"]]
    assert sorted((e["kind"], e["sku"], e["qty"]) for e in po["exceptions"]) == [
        ("damaged", a, 5),
        ("over_receipt", a, 5),
    ]

    damaged = await get_json(rc, "/v1/receipt-exceptions?kind=damaged")
    assert [(e["po_id"], e["sku"], e["qty"]) for e in damaged["exceptions"]] == [(po_id, a, 5)]
    assert damaged["exceptions"][0]["receipt_id"] == receipt["receipt_id"]
    over = await get_json(rc, "/v1/receipt-exceptions?kind=over_receipt")
    assert [(e["po_id"], e["sku"], e["qty"]) for e in over["exceptions"]] == [(po_id, a, 5)]
    assert over["exceptions"][0]["po_line_id"] == "1"
    assert (await get_json(rc, "/v1/receipt-exceptions?kind=substitution"))["exceptions"] == []
    unknown_kind = await get_json(rc, "/v1/receipt-exceptions?kind=lost", status=422)
    assert "lost" in unknown_kind["detail"]

    # the same receipt again: redelivered (same event id) and re-sent (same receipt_id, new id)
    await cluster.publish(
        "wms.events",
        "receipt.recorded",
        receipt,
        source=WMS,
        time=t0 + timedelta(seconds=10),
        id=first_id,
        correlationid=po_id,
    )
    await cluster.publish(
        "wms.events",
        "receipt.recorded",
        receipt,
        source=WMS,
        time=t0 + timedelta(seconds=11),
        correlationid=po_id,
    )
    # then the rest of B, on a second receipt: queued behind the duplicates, so once it shows,
    # the duplicates have been processed
    second = {
        "receipt_id": uid("RCV"),
        "location": LOC,
        "po_id": po_id,
        "lines": [{"po_line_id": "2", "sku": b, "qty_received": 30}],
    }
    await cluster.publish(
        "wms.events",
        "receipt.recorded",
        second,
        source=WMS,
        time=t0 + timedelta(seconds=20),
        correlationid=po_id,
    )

    async def po_received():
        po = await get_json(rc, f"/v1/purchase-orders/{po_id}")
        return po if po and po["status"] == "received" else None

    po = await eventually(po_received)
    l1, l2 = line(po, "1"), line(po, "2")
    assert (l1["received"], l1["accepted"], l1["quarantined"], l1["damaged"]) == (120, 110, 10, 5)
    assert (l2["received"], l2["accepted"], l2["quarantined"], l2["expected"]) == (50, 50, 0, 0)
    assert [r["receipt_id"] for r in po["receipts"]] == [
        receipt["receipt_id"],
        second["receipt_id"],
    ]
    assert len(po["exceptions"]) == 2

    async def second_applied():
        pb = await position(av, b)
        return pb if pb and pb["on_hand"] == 50 else None

    pb = await eventually(second_applied)
    assert (pb["quarantined"], pb["inbound"], pb["available_to_sell"]) == (0, 0, 50)
    assert pb["available_to_promise"] == 50
    pa = await position(av, a)
    assert (pa["on_hand"], pa["quarantined"], pa["inbound"]) == (120, 10, 0)
    assert pa["available_to_sell"] == 110

    # published once per receipt: the duplicates confirmed nothing and raised nothing
    await eventually(lambda: _receipt_ids(confirmed, po_id, second["receipt_id"]))
    mine = [e["data"] for e in confirmed if e["data"].get("po_id") == po_id]
    assert [c["receipt_id"] for c in mine] == [receipt["receipt_id"], second["receipt_id"]]
    by_sku = {ln["sku"]: ln for ln in mine[0]["lines"]}
    assert (by_sku[a]["qty_accepted"], by_sku[a]["qty_quarantined"]) == (110, 10)
    assert (by_sku[b]["qty_accepted"], by_sku[b]["qty_quarantined"]) == (20, 0)
    raised = sorted((e["data"]["kind"], e["data"]["qty"]) for e in exceptions)
    assert raised == [("damaged", 5), ("over_receipt", 5)]
    assert all(e["correlationid"] == po_id for e in confirmed + exceptions)

    assert await get_json(rc, f"/v1/purchase-orders/{uid('PO')}", status=404)


async def _receipt_ids(events, po_id, last):
    return any(e["data"].get("po_id") == po_id and e["data"]["receipt_id"] == last for e in events)


async def test_a_late_truck_that_overtakes_the_po_cancellation_ends_quarantined_and_a_count_keeps_it(
    cluster,
):
    """The late truck (received after the cancellation, event time) is handled before the
    cancellation arrives: the cancellation re-checks it, and availability moves its units to
    quarantine. A cycle count taken after the first receipt is ordered by `received_at`."""
    running = await cluster.start("receipt", "availability")
    rc, av = running["receipt"], running["availability"]
    holds = await cluster.listen("receipt.events", "inventory.quarantined")
    po_id, a = uid("PO"), uid("SKU-A")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)

    def at(m: int) -> datetime:
        return t0 + timedelta(minutes=m)

    release = {
        "po_id": po_id,
        "supplier_id": "SUP-1",
        "location": LOC,
        "expected_date": "2026-12-01",
        "lines": [{"line_id": "1", "sku": a, "qty": 10}],
    }
    await cluster.publish(
        "erp.events",
        "purchase_order.released",
        release,
        source=ERP,
        time=at(0),
        correlationid=po_id,
    )

    async def receive(rid: str, qty: int, minute: int) -> None:
        data = {
            "receipt_id": rid,
            "location": LOC,
            "po_id": po_id,
            "lines": [{"po_line_id": "1", "sku": a, "qty_received": qty}],
        }
        await cluster.publish(
            "wms.events", "receipt.recorded", data, source=WMS, time=at(minute), correlationid=po_id
        )

    await receive(uid("RCV"), 4, 1)

    async def first_confirmed():
        p = await position(av, a)
        return p if p and p["on_hand"] == 4 else None

    await eventually(first_confirmed)
    # counted at minute 2: 4 on the shelf, the first receipt (minute 1) included
    counted = {"location": LOC, "sku": a, "counted_qty": 4, "user": "t"}
    await cluster.publish("wms.events", "inventory.counted", counted, source=WMS, time=at(2))
    await receive(uid("RCV"), 6, 5)  # the late truck, after the cancellation below

    async def all_accepted():
        p = await position(av, a)
        return p if p and p["on_hand"] == 10 and p["available_to_sell"] == 10 else None

    await eventually(all_accepted)
    cancel = {"po_id": po_id, "reason": "supplier cannot deliver"}
    await cluster.publish(
        "erp.events",
        "purchase_order.cancelled",
        cancel,
        source=ERP,
        time=at(3),
        correlationid=po_id,
    )

    async def quarantined():
        p = await position(av, a)
        return p if p and p["quarantined"] == 6 else None

    p = await eventually(quarantined)
    assert (p["on_hand"], p["available_to_sell"], p["inbound"]) == (10, 4, 0)
    assert [h["data"]["qty"] for h in holds] == [6]
    assert holds[0]["correlationid"] == po_id
    po = await get_json(rc, f"/v1/purchase-orders/{po_id}")
    assert po["status"] == "cancelled"
    assert (line(po, "1")["received"], line(po, "1")["accepted"]) == (4, 4)
    kinds = sorted((e["kind"], e["qty"]) for e in po["exceptions"])
    assert kinds == [("short_receipt", 6), ("unexpected_item", 6)]
