"""Each carrier's documented push through the running webhook: UPS Track Alert (offset
written `-05.00`, a shared credential header), FedEx Track API / AIV (`fdx-signature`, base64
HMAC; one scan without offset skipped), DHL Express and DHL Unified (local times), USPS
Tracking 3.0 (local time beside UTC). Each ends at the milestone its latest event means, read
from carrier-tracking's GET /v1/shipments and order-status's GET /v1/orders. Real broker,
database and HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.harness import eventually, get_json
from tests.e2e.test_carrier_tracking_e2e import ship_order, signature

pytestmark = pytest.mark.e2e

SECRETS = {"ups": "ups-credential-7", "fedex": "fdx-token-7", "dhl": "dhl-s3", "usps": "usps-s3"}
AUTH = {
    "ups": {"scheme": "credential", "header": "Authorization", "prefix": "Bearer "},
    "fedex": {"scheme": "hmac", "header": "fdx-signature", "encoding": "base64"},
}
EAST = timezone(timedelta(hours=-5))
CENTRAL = timezone(timedelta(hours=-6))
MOUNTAIN = timezone(timedelta(hours=-7))


def headers(carrier: str, body: bytes) -> dict[str, str]:
    h = {"Content-Type": "application/json"}
    if carrier == "ups":
        h["Authorization"] = "Bearer " + SECRETS["ups"]
    elif carrier == "fedex":
        mac = hmac.new(SECRETS["fedex"].encode(), body, hashlib.sha256).digest()
        h["fdx-signature"] = base64.b64encode(mac).decode()
    else:
        h["X-Distsync-Signature"] = signature(SECRETS[carrier], body)
    return h


async def push(ct: Any, carrier: str, body: dict[str, Any]) -> Any:
    raw = json.dumps(body).encode()
    async with ct.client() as c:
        resp = await c.post(f"/v1/webhooks/{carrier}", content=raw, headers=headers(carrier, raw))
    assert resp.status_code == 202, resp.text
    return resp.json()


def ups_alert(tn: str, at: datetime, type_: str, code: str, text: str) -> dict[str, Any]:
    local = at.astimezone(EAST)
    return {
        "trackingNumber": tn,
        "localActivityDate": local.strftime("%Y%m%d"),
        "localActivityTime": local.strftime("%H%M%S"),
        "gmtOffset": "-05.00",
        "activityLocation": {"city": "Dayton", "stateProvince": "OH", "country": "US"},
        "activityStatus": {"type": type_, "code": code, "description": text},
    }


def fedex_track(tn: str, scans: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    return {
        "transactionId": "e2e",
        "output": {
            "completeTrackResults": [
                {
                    "trackingNumber": tn,
                    "trackResults": [
                        {
                            "trackingNumberInfo": {"trackingNumber": tn, "carrierCode": "FDXG"},
                            "scanEvents": [
                                {
                                    "date": date,
                                    "eventType": code,
                                    "derivedStatusCode": derived,
                                    "eventDescription": text,
                                    "scanLocation": {"city": "MEMPHIS", "countryCode": "US"},
                                }
                                for date, code, derived, text in scans
                            ],
                        }
                    ],
                }
            ]
        },
    }


def dhl_express(tn: str, events: list[tuple[datetime, str, str]]) -> dict[str, Any]:
    paris = timezone(timedelta(hours=1))
    return {
        "shipments": [
            {
                "shipmentTrackingNumber": tn,
                "status": "Success",
                "events": [
                    {
                        "date": at.astimezone(paris).strftime("%Y-%m-%d"),
                        "time": at.astimezone(paris).strftime("%H:%M:%S"),
                        "GMTOffset": "+01:00",
                        "typeCode": code,
                        "description": text,
                        "serviceArea": [{"code": "CDG", "description": "Paris-FR"}],
                    }
                    for at, code, text in events
                ],
            }
        ]
    }


def dhl_unified(number: int, events: list[tuple[datetime, str, str]]) -> dict[str, Any]:
    berlin = ZoneInfo("Europe/Berlin")
    return {
        "shipments": [
            {
                "id": number,
                "events": [
                    {
                        "timestamp": at.astimezone(berlin).replace(tzinfo=None).isoformat(),
                        "statusCode": status,
                        "description": text,
                        "location": {"address": {"addressLocality": "Bonn", "countryCode": "DE"}},
                    }
                    for at, status, text in events
                ],
            }
        ]
    }


def usps_v3(tn: str, events: list[tuple[datetime, str, str]]) -> dict[str, Any]:
    return {
        "trackingNumber": tn,
        "trackingEvents": [
            {
                "eventType": text,
                "eventTimestamp": at.astimezone(MOUNTAIN).replace(tzinfo=None).isoformat(),
                "GMTTimestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "GMTOffset": "-07:00",
                "eventCity": "DENVER",
                "eventState": "CO",
                "eventCode": code,
            }
            for at, code, text in events
        ],
    }


async def settled(ct: Any, os_: Any, tn: str, order_id: str, milestone: str, status: str) -> Any:
    async def check() -> Any:
        sh = await get_json(ct, f"/v1/shipments/{tn}")
        o = await get_json(os_, f"/v1/orders/{order_id}")
        ok = sh and o and sh["milestone"] == milestone and o["status"] == status
        return (sh, o) if ok else None

    return await eventually(check)


async def test_each_carriers_documented_push_ends_at_its_latest_events_milestone(cluster):
    running = await cluster.start(
        "carrier-tracking",
        "order-status",
        **{
            "carrier-tracking": {
                "carrier_tracking_webhook_secrets": SECRETS,
                "carrier_tracking_webhook_auth": AUTH,
            }
        },
    )
    ct, os_ = running["carrier-tracking"], running["order-status"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    ups = await ship_order(cluster, t0, "ups")
    fedex = await ship_order(cluster, t0, "fedex")
    express = await ship_order(cluster, t0, "dhl")
    usps = await ship_order(cluster, t0, "usps")

    # UPS Track Alert: one activity per push; out for delivery, then delivered
    await push(ct, "ups", ups_alert(ups[2], at(60), "I", "OT", "Out For Delivery Today"))
    answer = await push(ct, "ups", ups_alert(ups[2], at(90), "D", "FS", "DELIVERED"))
    assert answer["scans"][0]["native_code"] == "FS" and answer["skipped"] == []

    # FedEx Track API / AIV: one scan without an offset is skipped, the rest accepted
    fx = fedex_track(
        fedex[2],
        [
            (at(100).astimezone(CENTRAL).isoformat(), "HP", "IT", "Ready for recipient pickup"),
            (at(70).astimezone(CENTRAL).replace(tzinfo=None).isoformat(), "AR", "IT", "Arrived"),
            (at(20).astimezone(CENTRAL).isoformat(), "PU", "PU", "Picked up"),
        ],
    )
    answer = await push(ct, "fedex", fx)
    assert answer["accepted"] == 2
    assert [s["scan"][-13:] for s in answer["skipped"]] == ["scanEvents[1]"]
    assert "timezone" in answer["skipped"][0]["reason"]

    # DHL Express (MyDHL API): date and time apart with GMTOffset
    dx = dhl_express(
        express[2],
        [
            (at(10), "PU", "Shipment picked up"),
            (at(40), "AF", "Arrived at DHL Sort Facility"),
            (at(80), "WC", "With delivery courier"),
            (at(110), "OK", "Delivered"),
        ],
    )
    await push(ct, "dhl", dx)

    # USPS Tracking 3.0: local eventTimestamp, GMTTimestamp and GMTOffset
    us = usps_v3(
        usps[2],
        [
            (at(120), "01", "Delivered, In/At Mailbox"),
            (at(95), "59", "Out for Delivery"),
            (at(50), "TL", "In Transit to Next Facility"),
            (at(15), "03", "USPS picked up item"),
        ],
    )
    await push(ct, "usps", us)

    sh, _ = await settled(ct, os_, ups[2], ups[0], "delivered", "delivered")
    assert [h["native_code"] for h in sh["history"]] == ["OT", "FS"]
    assert datetime.fromisoformat(sh["milestone_at"]) == at(90)

    sh, _ = await settled(ct, os_, fedex[2], fedex[0], "available_for_pickup", "shipped")
    assert [(h["native_code"], h["milestone"]) for h in sh["history"]] == [
        ("PU", "picked_up"),
        ("HP", "available_for_pickup"),
    ]

    sh, _ = await settled(ct, os_, express[2], express[0], "delivered", "delivered")
    assert [h["native_code"] for h in sh["history"]] == ["PU", "AF", "WC", "OK"]
    assert sh["history"][-1]["location"] == "Paris-FR"
    assert datetime.fromisoformat(sh["milestone_at"]) == at(110)

    sh, _ = await settled(ct, os_, usps[2], usps[0], "delivered", "delivered")
    assert [h["milestone"] for h in sh["history"]] == [
        "picked_up",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert datetime.fromisoformat(sh["milestone_at"]) == at(120)


async def test_dhl_unified_local_times_and_a_wrong_fedex_signature(cluster):
    running = await cluster.start(
        "carrier-tracking",
        "order-status",
        **{
            "carrier-tracking": {
                "carrier_tracking_webhook_secrets": SECRETS,
                "carrier_tracking_webhook_auth": AUTH,
            }
        },
    )
    ct, os_ = running["carrier-tracking"], running["order-status"]
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    number = int(uuid.uuid4().hex[:12], 16)  # the Unified API may send the id as a number
    order_id, _, tn = await ship_order(cluster, t0, "dhl", tracking=str(number))
    body = dhl_unified(
        number,
        [
            (t0 + timedelta(minutes=30), "pre-transit", "Shipment data received"),
            (t0 + timedelta(minutes=60), "transit", "Processed in the parcel center"),
            (t0 + timedelta(minutes=90), "delivered", "Delivered"),
        ],
    )
    await push(ct, "dhl", body)
    sh, _ = await settled(ct, os_, tn, order_id, "delivered", "delivered")
    assert datetime.fromisoformat(sh["milestone_at"]) == t0 + timedelta(minutes=90)

    raw = json.dumps(fedex_track("1", [(t0.isoformat(), "PU", "PU", "Picked up")])).encode()
    bad = base64.b64encode(hmac.new(b"wrong", raw, hashlib.sha256).digest()).decode()
    async with ct.client() as c:
        resp = await c.post("/v1/webhooks/fedex", content=raw, headers={"fdx-signature": bad})
    assert resp.status_code == 401 and "fdx-signature invalid" in resp.json()["detail"]
