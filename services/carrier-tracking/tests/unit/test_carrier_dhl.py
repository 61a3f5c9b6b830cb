"""DHL bodies written from the Shipment Tracking - Unified API and the MyDHL API (Express)
tracking documentation, with scans and milestones."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from carrier_tracking.domain.carriers import classify
from carrier_tracking.domain.tracking import current_status, history
from carrier_tracking.webhooks import WebhookPayloadError, events_from_push, read_push


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def place(locality: str, country: str) -> dict[str, Any]:
    return {"address": {"addressLocality": locality, "countryCode": country}}


# Unified: a numeric id, local timestamps without offset (placed with the country's zone)
UNIFIED = {
    "shipments": [
        {
            "id": 340434188193845,
            "service": "parcel-de",
            "status": {"timestamp": "2026-11-28T11:20:00", "statusCode": "delivered"},
            "events": [
                {
                    "timestamp": "2026-11-28T11:20:00",
                    "location": place("Bonn", "DE"),
                    "statusCode": "delivered",
                    "status": "Delivered",
                    "description": "The shipment has been delivered.",
                },
                {
                    "timestamp": "2026-11-27T22:05:00",
                    "location": place("Köln", "DE"),
                    "statusCode": "transit",
                    "status": "In transit",
                    "description": "The shipment has been processed in the parcel center.",
                },
                {
                    "timestamp": "2026-11-26T18:40:00+01:00",
                    "statusCode": "pre-transit",
                    "status": "Pre-transit",
                    "description": "The shipment data has been received.",
                },
            ],
        }
    ]
}


def express_event(date: str, time: str, code: str, text: str, area: str) -> dict[str, Any]:
    return {
        "date": date,
        "time": time,
        "GMTOffset": "+01:00",
        "typeCode": code,
        "description": text,
        "serviceArea": [{"code": area[:3].upper(), "description": area}],
    }


# MyDHL API (Express): date and time apart, with GMTOffset beside them
EXPRESS = {
    "shipments": [
        {
            "shipmentTrackingNumber": "1234567890",
            "status": "Success",
            "productCode": "P",
            "description": "Documents",
            "events": [
                express_event("2026-11-24", "16:12:00", "PU", "Shipment picked up", "Leipzig-DE"),
                express_event("2026-11-24", "21:40:00", "PL", "Processed at LEIPZIG", "Leipzig-DE"),
                express_event("2026-11-24", "23:05:00", "DF", "Departed Facility", "Leipzig-DE"),
                express_event("2026-11-25", "06:30:00", "AF", "Arrived at Facility", "Paris-FR"),
                express_event("2026-11-25", "08:10:00", "WC", "With delivery courier", "Paris-FR"),
                express_event("2026-11-25", "12:47:00", "OK", "Delivered", "Paris-FR"),
            ],
        }
    ]
}


def test_unified_numeric_id_and_local_timestamps_are_read() -> None:
    push = read_push("dhl", raw(UNIFIED))
    assert push.skipped == []
    got = [(a.report.tracking_number, a.report.native_code, a.report.time) for a in push.accepted]
    assert got == [
        ("340434188193845", "delivered", datetime(2026, 11, 28, 10, 20, tzinfo=UTC)),  # CET
        ("340434188193845", "transit", datetime(2026, 11, 27, 21, 5, tzinfo=UTC)),
        ("340434188193845", "pre-transit", datetime(2026, 11, 26, 17, 40, tzinfo=UTC)),
    ]
    assert push.accepted[0].report.description == "The shipment has been delivered."


def test_unified_summer_time_is_placed_with_its_own_offset() -> None:
    body = copy.deepcopy(UNIFIED)
    body["shipments"][0]["events"][0]["timestamp"] = "2026-07-01T11:20:00"
    push = read_push("dhl", raw(body))
    assert push.accepted[0].report.time == datetime(2026, 7, 1, 9, 20, tzinfo=UTC)  # CEST


def test_unified_push_ends_delivered(replay: Any) -> None:
    state = replay("dhl", events_from_push("dhl", raw(UNIFIED)))
    assert [h.milestone for h in history(state)] == ["label_created", "in_transit", "delivered"]
    assert current_status(state).milestone == "delivered"


def test_a_local_time_in_a_country_of_several_zones_is_skipped_not_guessed() -> None:
    body = copy.deepcopy(UNIFIED)
    body["shipments"][0]["events"][1]["location"] = place("Chicago", "US")
    push = read_push("dhl", raw(body))
    assert [a.report.native_code for a in push.accepted] == ["delivered", "pre-transit"]
    (skip,) = push.skipped
    assert skip.where == "shipments[0].events[1]"
    assert "no timezone offset" in skip.reason and "US" in skip.reason


def test_express_events_are_placed_with_their_gmt_offset() -> None:
    push = read_push("dhl", raw(EXPRESS))
    first, *_, last = push.accepted
    assert (first.report.native_code, first.report.time) == (
        "PU",
        datetime(2026, 11, 24, 15, 12, tzinfo=UTC),
    )
    assert (last.report.native_code, last.report.location) == ("OK", "Paris-FR")


def test_express_push_ends_delivered(replay: Any) -> None:
    state = replay("dhl", events_from_push("dhl", raw(EXPRESS)))
    assert [h.milestone for h in history(state)] == [
        "picked_up",
        "in_transit",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert current_status(state).milestone == "delivered"


def test_an_express_event_without_gmt_offset_is_skipped() -> None:
    body = copy.deepcopy(EXPRESS)
    del body["shipments"][0]["events"][2]["GMTOffset"]
    push = read_push("dhl", raw(body))
    assert len(push.accepted) == 5
    (skip,) = push.skipped
    assert skip.where == "shipments[0].events[2]" and "GMTOffset" in skip.reason


@pytest.mark.parametrize(
    ("code", "milestone", "reason"),
    [
        ("CC", "available_for_pickup", None),  # awaiting consignee collection
        ("CD", "exception", "customs"),  # controllable clearance delay
        ("RT", "returned_to_sender", None),  # returned to consignor
        ("DM", "exception", "damaged"),  # damaged
        ("ST", "exception", "held"),  # shipment intercept
        ("PD", "delivered", None),  # partial delivery
        ("HI", "exception", "held"),  # lodged into held inventory control
        ("TT", None, None),  # trace terminated: informational
    ],
)
def test_express_codes_the_table_once_missed(code: str, milestone: str, reason: str | None) -> None:
    c = classify("dhl", code)
    assert (c.milestone, c.reason, c.unmapped) == (milestone, reason, False)


def test_an_express_code_dhl_does_not_list_is_kept_unmapped(replay: Any) -> None:
    body = copy.deepcopy(EXPRESS)
    body["shipments"][0]["events"][-1]["typeCode"] = "OR"
    state = replay("dhl", events_from_push("dhl", raw(body)))
    assert [(h.native_code, h.unmapped) for h in history(state)][-1] == ("OR", True)
    assert current_status(state).milestone == "out_for_delivery"


def test_an_express_return_ends_returned_to_sender(replay: Any) -> None:
    body = copy.deepcopy(EXPRESS)
    events = body["shipments"][0]["events"]
    events[-1] = express_event("2026-11-27", "09:00:00", "RT", "Returned to shipper", "Paris-FR")
    state = replay("dhl", events_from_push("dhl", raw(body)))
    assert current_status(state).milestone == "returned_to_sender"


def test_a_shipment_without_any_number_is_422() -> None:
    body = {"shipments": [{"events": UNIFIED["shipments"][0]["events"]}]}
    with pytest.raises(WebhookPayloadError, match="id or a shipmentTrackingNumber"):
        events_from_push("dhl", raw(body))
