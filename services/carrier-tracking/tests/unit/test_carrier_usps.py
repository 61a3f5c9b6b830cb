"""USPS bodies written from the Tracking 3.0 API documentation (local `eventTimestamp`,
`GMTTimestamp`, `GMTOffset`), with scans and milestones."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from carrier_tracking.domain.tracking import current_status, history
from carrier_tracking.webhooks import WebhookPayloadError, events_from_push, read_push


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def event(local: str, utc: str, offset: str, code: str, text: str, city: str) -> dict[str, Any]:
    return {
        "eventType": text,
        "eventTimestamp": local,
        "GMTTimestamp": utc,
        "GMTOffset": offset,
        "eventCountry": None,
        "eventCity": city,
        "eventState": "CO",
        "eventZIP": "80202",
        "firm": None,
        "name": None,
        "authorizedAgent": False,
        "eventCode": code,
    }


# Tracking 3.0: events most recent first; local time, UTC and the offset side by side
DELIVERED = {
    "trackingNumber": "9400 1000 0000 0000 0000 00",
    "statusCategory": "Delivered",
    "trackingEvents": [
        event(
            "2026-12-02T14:05:00",
            "2026-12-02T21:05:00Z",
            "-07:00",
            "01",
            "Delivered, In/At Mailbox",
            "DENVER",
        ),
        event(
            "2026-12-02T08:11:00",
            "2026-12-02T15:11:00Z",
            "-07:00",
            "59",
            "Out for Delivery",
            "DENVER",
        ),
        event(
            "2026-12-01T21:40:00",
            "2026-12-02T04:40:00Z",
            "-07:00",
            "TL",
            "In Transit to Next Facility",
            "",
        ),
        event(
            "2026-12-01T03:02:00",
            "2026-12-01T10:02:00Z",
            "-07:00",
            "10",
            "Processed through USPS Facility",
            "DENVER",
        ),
        event(
            "2026-11-30T16:45:00",
            "2026-11-30T23:45:00Z",
            "-07:00",
            "03",
            "USPS picked up item",
            "BOULDER",
        ),
        event(
            "2026-11-30T09:00:00",
            "2026-11-30T16:00:00Z",
            "-07:00",
            "GX",
            "Shipping Label Created, USPS Awaiting Item",
            "BOULDER",
        ),
    ],
}


def test_gmt_timestamp_is_the_scan_time() -> None:
    push = read_push("usps", raw(DELIVERED))
    assert push.skipped == []
    first = push.accepted[0].report
    assert (first.tracking_number, first.native_code) == ("9400 1000 0000 0000 0000 00", "01")
    assert first.time == datetime(2026, 12, 2, 21, 5, tzinfo=UTC)
    assert first.location == "DENVER, CO, 80202"
    assert first.description == "Delivered, In/At Mailbox"


def test_tracking_v3_push_ends_delivered(replay: Any) -> None:
    state = replay("usps", events_from_push("usps", raw(DELIVERED)))
    assert [h.milestone for h in history(state)] == [
        "label_created",
        "picked_up",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert current_status(state).milestone == "delivered"


def test_without_gmt_timestamp_the_local_time_is_placed_with_gmt_offset() -> None:
    body = copy.deepcopy(DELIVERED)
    body["trackingEvents"][0]["GMTTimestamp"] = None
    push = read_push("usps", raw(body))
    assert push.accepted[0].report.time == datetime(2026, 12, 2, 21, 5, tzinfo=UTC)


def test_an_event_with_neither_utc_nor_offset_is_skipped_and_named() -> None:
    body = copy.deepcopy(DELIVERED)
    body["trackingEvents"][2] |= {"GMTTimestamp": None, "GMTOffset": None}
    push = read_push("usps", raw(body))
    assert len(push.accepted) == 5
    (skip,) = push.skipped
    assert skip.where == "trackingEvents[2]" and "GMTOffset" in skip.reason


@pytest.mark.parametrize(
    ("code", "text", "milestone"),
    [
        ("T1", "In Transit", "in_transit"),
        ("TL", "In Transit to Next Facility", "in_transit"),
        ("16", "Available for Pickup", "available_for_pickup"),
        ("02", "Notice Left (No Authorized Recipient Available)", "delivery_attempted"),
        ("09", "Return to Sender", "returned_to_sender"),
    ],
)
def test_a_single_event_push_ends_at_its_documented_meaning(
    replay: Any, code: str, text: str, milestone: str
) -> None:
    body = {
        "trackingNumber": "9400100000000000000001",
        "trackingEvents": [
            event("2026-12-01T10:00:00", "2026-12-01T17:00:00Z", "-07:00", code, text, "DENVER")
        ],
    }
    state = replay("usps", events_from_push("usps", raw(body)))
    assert current_status(state).milestone == milestone


def test_a_push_of_only_unplaceable_events_is_422_naming_each() -> None:
    body = copy.deepcopy(DELIVERED)
    for e in body["trackingEvents"]:
        e |= {"GMTTimestamp": None, "GMTOffset": None}
    with pytest.raises(WebhookPayloadError, match=r"trackingEvents\[0\].*and 1 more"):
        events_from_push("usps", raw(body))


def test_a_bad_offset_is_named_in_the_reason() -> None:
    body = copy.deepcopy(DELIVERED)
    body["trackingEvents"] = body["trackingEvents"][:1]
    body["trackingEvents"][0] |= {"GMTTimestamp": None, "GMTOffset": "Mountain"}
    with pytest.raises(WebhookPayloadError, match="offset 'Mountain'"):
        events_from_push("usps", raw(body))
