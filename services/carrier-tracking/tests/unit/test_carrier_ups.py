"""UPS bodies written from the Track Alert v2 webhook and the Track API v1 documentation,
each with the scans and the milestone it must end at."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from carrier_tracking.domain.carriers import classify
from carrier_tracking.domain.tracking import current_status, history
from carrier_tracking.webhooks import WebhookPayloadError, events_from_push, parse_push, read_push


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


# Track Alert: out for delivery, local time with the offset written as UPS writes it (-05.00)
OUT_FOR_DELIVERY = {
    "trackingNumber": "1Z5R89390357567127",
    "localActivityDate": "20261130",
    "localActivityTime": "083012",
    "gmtOffset": "-05.00",
    "activityLocation": {"city": "Dayton", "stateProvince": "OH", "country": "US"},
    "activityStatus": {"type": "I", "code": "OT", "description": "Out For Delivery Today"},
    "scheduledDeliveryDate": "20261130",
}

# Track Alert: delivered, with the GMT fields (which win) and the local ones
DELIVERED = {
    "trackingNumber": "1Z5R89390357567127",
    "localActivityDate": "20261130",
    "localActivityTime": "141702",
    "gmtActivityDate": "20261130",
    "gmtActivityTime": "191702",
    "gmtOffset": "-05.00",
    "activityLocation": {"city": "DAYTON", "stateProvince": "OH", "postalCode": "45402"},
    "activityStatus": {
        "type": "D",
        "code": "FS",
        "description": "DELIVERED",
        "descriptionCode": "011",
    },
    "actualDeliveryDate": "20261130",
    "actualDeliveryTime": "141702",
    "receivedBy": "FRONT DESK",
}

# Track API v1: activities most recent first; gmtTime may lose its leading zero
TRACK_API = {
    "trackResponse": {
        "shipment": [
            {
                "inquiryNumber": "1Z023E2X0214323462",
                "package": [
                    {
                        "trackingNumber": "1Z023E2X0214323462",
                        "activity": [
                            {
                                "date": "20261202",
                                "time": "104410",
                                "gmtDate": "20261202",
                                "gmtTime": "154410",
                                "gmtOffset": "-05:00",
                                "location": {"address": {"city": "Columbus", "country": "US"}},
                                "status": {
                                    "type": "D",
                                    "code": "KB",
                                    "description": "Delivered",
                                    "statusCode": "011",
                                },
                            },
                            {
                                "date": "20261201",
                                "time": "224700",
                                "gmtDate": "20261202",
                                "gmtTime": "34700",
                                "gmtOffset": "-05:00",
                                "location": {"address": {"city": "Louisville", "country": "US"}},
                                "status": {
                                    "type": "I",
                                    "code": "DP",
                                    "description": "Departed from Facility",
                                    "statusCode": "005",
                                },
                            },
                            {
                                "date": "20261201",
                                "time": "091500",
                                "gmtOffset": "-05:00",
                                "status": {
                                    "type": "M",
                                    "code": "MP",
                                    "description": "Shipper created a label",
                                    "statusCode": "003",
                                },
                            },
                        ],
                    }
                ],
            }
        ]
    }
}


def test_track_alert_offset_written_with_a_dot_is_read(replay: Any) -> None:
    (r,) = parse_push("ups", raw(OUT_FOR_DELIVERY))
    assert (r.native_code, r.native_type) == ("OT", "I")
    assert r.time == datetime(2026, 11, 30, 13, 30, 12, tzinfo=UTC)
    assert r.location == "Dayton, OH, US"
    state = replay("ups", events_from_push("ups", raw(OUT_FOR_DELIVERY)))
    assert current_status(state).milestone == "out_for_delivery"


def test_track_alert_gmt_fields_win_over_local_time(replay: Any) -> None:
    (r,) = parse_push("ups", raw(DELIVERED))
    assert r.time == datetime(2026, 11, 30, 19, 17, 2, tzinfo=UTC)
    events = events_from_push("ups", raw(OUT_FOR_DELIVERY)) + events_from_push(
        "ups", raw(DELIVERED)
    )
    assert current_status(replay("ups", events)).milestone == "delivered"


@pytest.mark.parametrize("offset", ["-05.00", "-05:00", "-0500"])
def test_every_spelling_of_the_offset_gives_the_same_time(offset: str) -> None:
    (r,) = parse_push("ups", raw({**OUT_FOR_DELIVERY, "gmtOffset": offset}))
    assert r.time == datetime(2026, 11, 30, 13, 30, 12, tzinfo=UTC)


def test_track_api_response_reads_every_activity(replay: Any) -> None:
    push = read_push("ups", raw(TRACK_API))
    assert push.skipped == []
    got = [(a.report.native_code, a.report.native_type, a.report.time) for a in push.accepted]
    assert got == [
        ("KB", "D", datetime(2026, 12, 2, 15, 44, 10, tzinfo=UTC)),
        ("DP", "I", datetime(2026, 12, 2, 3, 47, tzinfo=UTC)),
        ("MP", "M", datetime(2026, 12, 1, 14, 15, tzinfo=UTC)),  # local + offset
    ]
    state = replay("ups", push.events)
    assert [h.milestone for h in history(state)] == ["label_created", "in_transit", "delivered"]
    assert current_status(state).milestone == "delivered"


@pytest.mark.parametrize(
    ("type_", "code", "milestone", "reason"),
    [
        ("M", "DP", "label_created", None),  # manifest processed, not a departure
        ("I", "DP", "in_transit", None),  # departure scan
        ("I", "OR", "picked_up", None),  # origin scan
        ("I", "OT", "out_for_delivery", None),
        ("D", "FS", "delivered", None),
        ("D", "Q9", "delivered", None),  # any code under D is a delivery
        ("X", "DP", "exception", None),  # under X every code is an exception
        ("MV", "MV", "exception", "cancelled"),
        ("U", "OT", None, None),  # an updated delivery date moves nothing
    ],
)
def test_codes_are_read_under_their_activity_type(
    type_: str, code: str, milestone: str | None, reason: str | None
) -> None:
    c = classify("ups", code, type_)
    assert (c.milestone, c.reason, c.unmapped) == (milestone, reason, False)


def test_an_exception_push_holds_the_shipment_in_exception(replay: Any) -> None:
    exception = {
        **DELIVERED,
        "gmtActivityTime": "201500",
        "activityStatus": {"type": "X", "code": "UX", "description": "Weather delay"},
    }
    events = events_from_push("ups", raw(OUT_FOR_DELIVERY)) + events_from_push(
        "ups", raw(exception)
    )
    status = current_status(replay("ups", events))
    assert (status.milestone, status.native_code) == ("exception", "UX")


def test_an_unknown_type_and_code_is_kept_on_the_timeline_unmapped(replay: Any) -> None:
    body = {**OUT_FOR_DELIVERY, "activityStatus": {"type": "Q", "code": "ZZ"}}
    state = replay("ups", events_from_push("ups", raw(body)))
    (entry,) = history(state)
    assert (entry.native_code, entry.unmapped) == ("ZZ", True)
    assert current_status(state) is None


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"gmtOffset": "-25.00"}, "offset"),
        ({"gmtOffset": "EST"}, "offset"),
        ({"localActivityDate": "20261331"}, "not a date"),
    ],
)
def test_a_track_alert_time_that_cannot_be_placed_is_422_with_the_reason(
    changes: dict[str, str], why: str
) -> None:
    with pytest.raises(WebhookPayloadError, match=why):
        events_from_push("ups", raw({**OUT_FOR_DELIVERY, **changes}))


def test_one_unreadable_track_api_activity_is_skipped_the_rest_accepted() -> None:
    body = json.loads(json.dumps(TRACK_API))
    acts = body["trackResponse"]["shipment"][0]["package"][0]["activity"]
    acts[1] = {**acts[1], "gmtDate": None, "gmtOffset": None}
    push = read_push("ups", raw(body))
    assert [a.report.native_code for a in push.accepted] == ["KB", "MP"]
    (skip,) = push.skipped
    assert skip.where == "trackResponse.shipment[0].package[0].activity[1]"
    assert "gmtOffset" in skip.reason and skip.tracking_number == "1Z023E2X0214323462"
