"""FedEx bodies written from the Track API 1.0 response and the Advanced Integrated Visibility
webhook (the same `output.completeTrackResults` shape), with scans and milestones."""

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


def scan(date: str, event: str, derived: str, text: str, city: str = "MEMPHIS") -> dict[str, Any]:
    return {
        "date": date,
        "eventType": event,
        "eventDescription": text,
        "derivedStatusCode": derived,
        "derivedStatus": text,
        "exceptionCode": "",
        "exceptionDescription": "",
        "scanLocation": {
            "streetLines": [""],
            "city": city,
            "stateOrProvinceCode": "TN",
            "postalCode": "38118",
            "countryCode": "US",
            "residential": False,
        },
        "locationType": "FEDEX_FACILITY",
    }


def track(tn: str, scans: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "transactionId": "b1f0c7a2-4d59-4f7e-9c1e-3f6a2d8e0b11",
        "output": {
            "completeTrackResults": [
                {
                    "trackingNumber": tn,
                    "trackResults": [
                        {
                            "trackingNumberInfo": {
                                "trackingNumber": tn,
                                "trackingNumberUniqueId": "2460~" + tn + "~FDEG",
                                "carrierCode": "FDXG",
                            },
                            "latestStatusDetail": {"code": scans[0]["eventType"]},
                            "scanEvents": scans,
                            **extra,
                        }
                    ],
                }
            ]
        },
    }


# Track API: scans most recent first, each date with its own offset
DELIVERED = track(
    "771234567890",
    [
        scan("2026-12-02T11:42:00-05:00", "DL", "DL", "Delivered", "NASHVILLE"),
        scan("2026-12-02T07:05:00-06:00", "OD", "IT", "On FedEx vehicle for delivery"),
        scan("2026-12-01T23:10:00-06:00", "DP", "IT", "Departed FedEx hub"),
        scan("2026-12-01T18:30:00-06:00", "AR", "IT", "Arrived at FedEx hub"),
        scan("2026-12-01T15:02:00-06:00", "PU", "PU", "Picked up"),
        scan("2026-11-30T21:14:00-06:00", "OC", "IN", "Shipment information sent to FedEx"),
    ],
)

# AIV webhook push: one new scan, ready for recipient pickup
READY_FOR_PICKUP = {
    "outputMetaData": [{"timeStamp": "2026-12-03T09:31:07Z", "attempt": 1}],
    **track(
        "771234567891",
        # FedEx derives "IT" (in transit) for it; the event type decides
        [scan("2026-12-03T09:30:00-06:00", "HP", "IT", "Ready for recipient pickup")],
    ),
}


def test_track_api_response_reads_every_scan_in_utc() -> None:
    push = read_push("fedex", raw(DELIVERED))
    assert push.skipped == []
    assert [a.report.native_code for a in push.accepted] == ["DL", "OD", "DP", "AR", "PU", "OC"]
    first = push.accepted[0]
    assert first.report.time == datetime(2026, 12, 2, 16, 42, tzinfo=UTC)
    assert first.report.location == "NASHVILLE, TN, US"
    assert first.where == "output.completeTrackResults[0].trackResults[0].scanEvents[0]"


def test_track_api_response_ends_delivered(replay: Any) -> None:
    state = replay("fedex", events_from_push("fedex", raw(DELIVERED)))
    assert [h.milestone for h in history(state)] == [
        "label_created",
        "picked_up",
        "in_transit",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert current_status(state).milestone == "delivered"


def test_ready_for_recipient_pickup_is_available_for_pickup(replay: Any) -> None:
    state = replay("fedex", events_from_push("fedex", raw(READY_FOR_PICKUP)))
    assert current_status(state).milestone == "available_for_pickup"


def test_a_delivery_exception_carries_its_description() -> None:
    refused = scan("2026-12-02T11:42:00-05:00", "DE", "DE", "Delivery exception")
    refused |= {"exceptionCode": "07", "exceptionDescription": "Customer refused delivery"}
    push = read_push("fedex", raw(track("771234567892", [refused])))
    (a,) = push.accepted
    assert a.report.description == "Delivery exception: Customer refused delivery"


def test_one_scan_without_an_offset_is_skipped_and_the_rest_accepted() -> None:
    body = copy.deepcopy(DELIVERED)
    scans = body["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"]
    scans[2]["date"] = "2026-12-01T23:10:00"
    push = read_push("fedex", raw(body))
    assert len(push.accepted) == 5
    (skip,) = push.skipped
    assert skip.where.endswith("scanEvents[2]") and "timezone" in skip.reason
    assert skip.tracking_number == "771234567890"


def test_a_track_result_with_an_error_is_reported_beside_the_good_ones() -> None:
    body = copy.deepcopy(READY_FOR_PICKUP)
    body["output"]["completeTrackResults"].append(
        {
            "trackingNumber": "123456789012",
            "trackResults": [
                {
                    "trackingNumberInfo": {"trackingNumber": "123456789012"},
                    "error": {
                        "code": "TRACKING.TRACKINGNUMBER.NOTFOUND",
                        "message": "Tracking number cannot be found.",
                    },
                }
            ],
        }
    )
    push = read_push("fedex", raw(body))
    assert len(push.accepted) == 1
    (skip,) = push.skipped
    assert "TRACKING.TRACKINGNUMBER.NOTFOUND" in skip.reason
    assert skip.where == "output.completeTrackResults[1].trackResults[0]"


def test_a_push_of_only_errors_is_422_with_the_reasons() -> None:
    body = track("123456789012", [scan("2026-12-01T10:00:00", "PU", "PU", "Picked up")])
    with pytest.raises(WebhookPayloadError, match=r"no readable scan.*scanEvents\[0\].*timezone"):
        events_from_push("fedex", raw(body))


@pytest.mark.parametrize(
    "body",
    [
        {"output": {}},
        {"output": {"completeTrackResults": []}},
        {"output": {"completeTrackResults": "x"}},
    ],
)
def test_an_output_that_is_not_fedex_shape_is_422(body: dict[str, Any]) -> None:
    with pytest.raises(WebhookPayloadError, match="not a fedex push: output"):
        events_from_push("fedex", raw(body))
