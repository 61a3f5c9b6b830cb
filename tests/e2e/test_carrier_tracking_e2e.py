"""Carrier-tracking and order-status end to end: `shipment.shipped`, then carrier scans, some
through the broker (`tracking.reported` on carrier.events) and some as signed webhook pushes,
end with the shipment `delivered` and the order `delivered`; a badly signed push is refused and
publishes nothing; an exception scan shows on both services and clears on delivery. Real
broker, database and HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e

LOC = "DC-EAST"
ERP, WMS = "erp/main", "wms/dc-east"
SECRETS = {"ups": "s3cret", "fedex": "fx-s3cret"}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ts(value: str) -> datetime:
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def signature(secret: str, body: bytes) -> str:
    """What the carrier-tracking README asks for: `sha256=<hex HMAC-SHA256 of the raw body>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def ups_push(tracking_number: str, at: datetime, code: str, description: str) -> bytes:
    return json.dumps(
        {
            "trackingNumber": tracking_number,
            "gmtActivityDate": at.strftime("%Y%m%d"),
            "gmtActivityTime": at.strftime("%H%M%S"),
            "activityLocation": {"city": "Louisville", "stateProvince": "KY", "country": "US"},
            "activityStatus": {"code": code, "description": description},
        }
    ).encode()


async def post_webhook(ct, carrier: str, body: bytes, sig: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if sig is not None:
        headers["X-Distsync-Signature"] = sig
    async with ct.client() as c:
        return await c.post(f"/v1/webhooks/{carrier}", content=body, headers=headers)


async def start(cluster):
    running = await cluster.start(
        "carrier-tracking",
        "order-status",
        **{"carrier-tracking": {"carrier_tracking_webhook_secrets": SECRETS}},
    )
    return running["carrier-tracking"], running["order-status"]


async def ship_order(
    cluster, t0: datetime, carrier: str, tracking: str | None = None
) -> tuple[str, str, str]:
    """An order of 2 units created, allocated, picked, packed and shipped in one shipment."""
    order_id, shipment_id = uid("ORD"), uid("SH")
    tracking = tracking or uuid.uuid4().hex[:14].upper()
    s = uid("SKU")
    events = [
        (
            "erp.events",
            "order.created",
            {
                "order_id": order_id,
                "channel": "web",
                "customer_id": "C-1",
                "lines": [{"line_id": "1", "sku": s, "qty": 2}],
            },
            ERP,
        ),
        (
            "erp.events",
            "order.allocated",
            {
                "order_id": order_id,
                "lines": [{"line_id": "1", "sku": s, "location": LOC, "qty": 2}],
            },
            ERP,
        ),
        (
            "wms.events",
            "pick.completed",
            {
                "order_id": order_id,
                "location": LOC,
                "lines": [{"line_id": "1", "sku": s, "qty_picked": 2}],
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
                "carrier": carrier,
                "tracking_number": tracking,
                "lines": [{"line_id": "1", "sku": s, "qty": 2}],
            },
            WMS,
        ),
    ]
    for i, (exchange, type_, data, source) in enumerate(events, start=1):
        await cluster.publish(
            exchange,
            type_,
            data,
            source=source,
            time=t0 + timedelta(seconds=i),
            correlationid=order_id,
        )
    return order_id, shipment_id, tracking


async def scan(cluster, carrier: str, tracking: str, code: str, at: datetime, **extra: str) -> str:
    return await cluster.publish(
        "carrier.events",
        "tracking.reported",
        {"carrier": carrier, "tracking_number": tracking, "native_code": code, **extra},
        source=f"carrier/{carrier}",
        time=at,
    )


async def test_scans_via_the_broker_and_signed_webhooks_end_with_shipment_and_order_delivered(
    cluster,
):
    ct, os_ = await start(cluster)
    reported = await cluster.listen("carrier.events", "tracking.reported")
    updates = await cluster.listen("carrier-tracking.events", "shipment.tracking_updated")
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    order_id, shipment_id, tn = await ship_order(cluster, t0, "ups")

    async def shipment():
        return await get_json(ct, f"/v1/shipments/{tn}")

    async def order():
        return await get_json(os_, f"/v1/orders/{order_id}")

    async def registered():
        sh, o = await shipment(), await order()
        return (sh, o) if sh and o and sh["order_id"] and o["status"] == "shipped" else None

    sh, o = await eventually(registered)
    assert (sh["carrier"], sh["shipment_id"], sh["order_id"]) == ("ups", shipment_id, order_id)
    assert sh["milestone"] is None and sh["history"] == []
    assert ts(sh["shipped_at"]) == t0 + timedelta(seconds=5)

    # picked up (broker), arrived at a hub (webhook), out for delivery (broker)
    await scan(cluster, "ups", tn, "P", at(10), description="Pickup scan")
    push = ups_push(tn, at(20), "AR", "Arrived at Facility")
    resp = await post_webhook(ct, "ups", push, signature("s3cret", push))
    assert resp.status_code == 202, resp.text
    accepted = resp.json()
    assert (accepted["carrier"], accepted["accepted"]) == ("ups", 1)
    [arrived_id] = accepted["event_ids"]
    await scan(cluster, "ups", tn, "OT", at(30), description="Out for delivery today")

    async def out_for_delivery():
        sh = await shipment()
        return sh if sh and sh["milestone"] == "out_for_delivery" else None

    sh = await eventually(out_for_delivery)
    assert [h["native_code"] for h in sh["history"]] == ["P", "AR", "OT"]
    assert [h["milestone"] for h in sh["history"]] == [
        "picked_up",
        "in_transit",
        "out_for_delivery",
    ]
    assert sh["history"][1]["event_id"] == arrived_id
    assert sh["history"][1]["location"] == "Louisville, KY, US"

    # a forged delivery (wrong secret) and an unsigned one: 401, nothing published or stored
    forged = ups_push(tn, at(35), "D", "Delivered")
    resp = await post_webhook(ct, "ups", forged, signature("not-the-secret", forged))
    assert resp.status_code == 401, resp.text
    resp = await post_webhook(ct, "ups", forged, None)
    assert resp.status_code == 401, resp.text

    # the real delivery, pushed twice by the carrier: the same event id, one scan
    delivered = ups_push(tn, at(40), "D", "Delivered")
    first = await post_webhook(ct, "ups", delivered, signature("s3cret", delivered))
    again = await post_webhook(ct, "ups", delivered, signature("s3cret", delivered))
    assert first.status_code == again.status_code == 202
    assert first.json()["event_ids"] == again.json()["event_ids"]
    [delivered_id] = first.json()["event_ids"]

    async def both_delivered():
        sh, o = await shipment(), await order()
        ok = sh and o and sh["milestone"] == "delivered" and o["status"] == "delivered"
        return (sh, o) if ok else None

    sh, o = await eventually(both_delivered)
    assert ts(sh["milestone_at"]) == at(40)
    assert sh["previous_milestone"] == "out_for_delivery"
    assert [h["native_code"] for h in sh["history"]] == ["P", "AR", "OT", "D"]
    assert [ts(h["time"]) for h in sh["history"]] == [at(10), at(20), at(30), at(40)]
    assert sh["history"][-1]["event_id"] == delivered_id

    assert ts(o["status_at"]) == at(40)
    [shp] = o["shipments"]
    assert (shp["shipment_id"], shp["tracking_number"], shp["carrier"]) == (shipment_id, tn, "ups")
    assert shp["milestone"] == "delivered" and ts(shp["delivered_at"]) == at(40)
    assert o["lines"][0]["delivered"] == 2 and o["lines"][0]["shipped"] == 2
    assert [m["status"] for m in o["milestones"]] == [
        "received",
        "allocated",
        "picked",
        "packed",
        "shipped",
        "delivered",
    ]
    assert o["milestones"][-1]["native_status"] == "D"
    carrier_entries = [e for e in o["timeline"] if e["type"] == "shipment.tracking_updated"]
    assert [e["native_status"] for e in carrier_entries] == ["P", "AR", "OT", "D"]
    assert [ts(e["at"]) for e in carrier_entries] == [at(10), at(20), at(30), at(40)]

    # what went over carrier.events for this number: the forged and unsigned pushes never did
    async def all_reported():
        mine = [e for e in reported if e["data"]["tracking_number"] == tn]
        return mine if len(mine) >= 5 else None

    mine = await eventually(all_reported)
    assert sorted(e["data"]["native_code"] for e in mine) == ["AR", "D", "D", "OT", "P"]
    assert all(ts(e["time"]) != at(35) for e in mine)
    webhook = [e for e in mine if e["source"] == "carrier/ups-webhook"]
    assert {e["id"] for e in webhook} == {arrived_id, delivered_id}

    # a late in-transit scan (older than the delivery) is kept in its place, never regresses
    await scan(cluster, "ups", tn, "DP", at(25), description="Departed from facility")

    async def late_scan_kept():
        sh = await shipment()
        return sh if sh and len(sh["history"]) == 5 else None

    sh = await eventually(late_scan_kept)
    assert [h["native_code"] for h in sh["history"]] == ["P", "AR", "DP", "OT", "D"]
    assert sh["milestone"] == "delivered" and ts(sh["milestone_at"]) == at(40)
    assert (await order())["status"] == "delivered"
    milestones = [e["data"]["milestone"] for e in updates if e["data"]["tracking_number"] == tn]
    assert milestones == ["picked_up", "in_transit", "out_for_delivery", "delivered"]
    assert all(
        e["data"]["order_id"] == order_id for e in updates if e["data"]["tracking_number"] == tn
    )


async def test_an_exception_scan_puts_shipment_and_order_in_exception_until_the_delivery(
    cluster,
):
    ct, os_ = await start(cluster)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    order_id, shipment_id, tn = await ship_order(cluster, t0, "fedex")

    async def shipment():
        return await get_json(ct, f"/v1/shipments/{tn}")

    async def order():
        return await get_json(os_, f"/v1/orders/{order_id}")

    await scan(cluster, "fedex", tn, "PU", at(10), description="Picked up")
    push = json.dumps(
        {
            "trackingNumber": tn,
            "scanEvents": [
                {
                    "date": at(20).isoformat(),
                    "eventType": "CD",
                    "derivedStatusCode": "DE",
                    "eventDescription": "Clearance delay",
                    "scanLocation": {"city": "MEMPHIS", "stateOrProvinceCode": "TN"},
                }
            ],
        }
    ).encode()
    resp = await post_webhook(ct, "fedex", push, signature(SECRETS["fedex"], push))
    assert resp.status_code == 202, resp.text

    async def in_exception():
        sh, o = await shipment(), await order()
        ok = sh and o and sh["milestone"] == "exception" and o["status"] == "exception"
        return (sh, o) if ok else None

    sh, o = await eventually(in_exception)
    assert (sh["shipment_id"], sh["order_id"], sh["carrier"]) == (shipment_id, order_id, "fedex")
    assert sh["exception_reason"] == "customs" and sh["native_code"] == "CD"
    assert sh["previous_milestone"] == "picked_up"
    assert o["reason"] == "customs" and ts(o["status_at"]) == at(20)
    assert o["shipments"][0]["exception_reason"] == "customs"
    listed = await get_json(os_, "/v1/orders?status=exception")
    assert [x["order_id"] for x in listed["items"]] == [order_id]

    await scan(cluster, "fedex", tn, "DL", at(30), description="Delivered")

    async def delivered():
        sh, o = await shipment(), await order()
        ok = sh and o and sh["milestone"] == "delivered" and o["status"] == "delivered"
        return (sh, o) if ok else None

    sh, o = await eventually(delivered)
    assert sh["exception_reason"] is None
    assert [h["native_code"] for h in sh["history"]] == ["PU", "CD", "DL"]
    assert o["reason"] is None and ts(o["status_at"]) == at(30)
    assert o["shipments"][0]["exception_reason"] is None
    assert [m["status"] for m in o["milestones"]][-2:] == ["exception", "delivered"]
    assert o["milestones"][-2]["reason"] == "customs"
    assert (await get_json(os_, "/v1/orders?status=exception"))["items"] == []
    delivered_orders = await get_json(os_, "/v1/orders?status=delivered")
    assert [x["order_id"] for x in delivered_orders["items"]] == [order_id]

    # a known carrier without a configured secret: 401; a carrier nobody knows: 404
    resp = await post_webhook(ct, "dhl", b"{}", signature("x", b"{}"))
    assert resp.status_code == 401, resp.text
    resp = await post_webhook(ct, "acme", b"{}", signature("x", b"{}"))
    assert resp.status_code == 404, resp.text
    assert await get_json(ct, f"/v1/shipments/{uuid.uuid4().hex[:12]}", status=404)


async def test_a_permanent_push_problem_is_422_and_a_tracking_number_with_a_slash_is_readable(
    cluster,
):
    """A carrier must not be told to resend what can never be read (no 503 for a payload):
    dates off the calendar in UTC, 10,000-level JSON, numbers of 5,000 digits are 422 and
    publish nothing. A TMS tracking number with `/` is read back percent-encoded."""
    ct, _ = await start(cluster)
    reported = await cluster.listen("carrier.events", "tracking.reported")
    tn = f"JD/{uuid.uuid4().hex[:8].upper()}/7"
    bad = [
        json.dumps(
            {
                "trackingNumber": tn,
                "scanEvents": [{"eventType": "PU", "date": "9999-12-31T23:00:00-05:00"}],
            }
        ).encode(),
        json.dumps(
            {
                "trackingNumber": tn,
                "scanEvents": [{"eventType": "PU", "date": "0001-01-01T00:30:00+01:00"}],
            }
        ).encode(),
        b'{"trackingNumber": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        b'{"trackingNumber": ' + b"9" * 5_000 + b"}",
    ]
    for body in bad:
        resp = await post_webhook(ct, "fedex", body, signature(SECRETS["fedex"], body))
        assert resp.status_code == 422, resp.text
        assert resp.json()["detail"]

    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    good = json.dumps(
        {"trackingNumber": tn, "scanEvents": [{"eventType": "PU", "date": at.isoformat()}]}
    ).encode()
    resp = await post_webhook(ct, "fedex", good, signature(SECRETS["fedex"], good))
    assert resp.status_code == 202, resp.text

    path = "/v1/shipments/" + quote(tn, safe="")
    sh = await eventually(lambda: get_json(ct, path))
    assert (sh["tracking_number"], sh["milestone"]) == (tn, "picked_up")

    async def published():  # the refused pushes would have gone out before the good one
        return [e for e in reported if e["data"]["tracking_number"] == tn]

    assert [ts(e["time"]) for e in await eventually(published)] == [at]
