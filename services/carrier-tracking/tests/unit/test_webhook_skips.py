"""One unreadable scan is skipped and reported, never a reason to drop the rest of the push;
a push with no readable scan is 422 with the reasons. Plus robustness: no body crashes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carrier_tracking.settings import CarrierTrackingSettings
from carrier_tracking.webhooks import SIGNATURE_HEADER, WebhookPayloadError, read_push, sign
from shared.service import ApiContext

SECRETS = {"usps": "usps-secret", "fedex": "fedex-secret", "dhl": "dhl-secret", "ups": "u"}
SKIPPED = "distsync_carrier_tracking_webhook_skipped_scans_total"

USPS = {
    "trackingNumber": "9400100000000000000002",
    "trackingEvents": [
        {
            "eventType": "Delivered",
            "eventTimestamp": "2026-12-02T14:05:00",
            "GMTOffset": "-07:00",
            "eventCode": "01",
        },
        {
            "eventType": "Out for Delivery",
            "eventTimestamp": "2026-12-02T08:11:00",
            "eventCode": "59",
        },
        {"eventType": "Processed", "eventCode": "10"},
    ],
}


@pytest.fixture
def client(api_ctx: ApiContext, serve: Callable[[ApiContext], TestClient]) -> TestClient:
    api_ctx.settings = CarrierTrackingSettings(carrier_tracking_webhook_secrets=SECRETS)
    return serve(api_ctx)


def post(client: TestClient, carrier: str, body: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {SIGNATURE_HEADER: sign(SECRETS.get(carrier, "x"), raw)}
    return client.post(f"/v1/webhooks/{carrier}", content=raw, headers=headers)


def test_the_answer_lists_accepted_and_skipped_scans(
    client: TestClient, publisher: Any, metric: Callable[..., float]
) -> None:
    before = metric(SKIPPED, carrier="usps")
    r = post(client, "usps", USPS)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["accepted"] == 1 and len(publisher.sent) == 1
    (scan,) = answer["scans"]
    assert scan["scan"] == "trackingEvents[0]" and scan["native_code"] == "01"
    assert scan["event_id"] == answer["event_ids"][0] == publisher.sent[0][1].id
    assert datetime.fromisoformat(scan["time"]) == datetime(2026, 12, 2, 21, 5, tzinfo=UTC)
    assert [(s["scan"], s["tracking_number"]) for s in answer["skipped"]] == [
        ("trackingEvents[1]", "9400100000000000000002"),
        ("trackingEvents[2]", "9400100000000000000002"),
    ]
    assert "GMTOffset" in answer["skipped"][0]["reason"]
    assert "eventTimestamp" in answer["skipped"][1]["reason"]
    assert metric(SKIPPED, carrier="usps") == before + 2


def test_a_push_with_no_readable_scan_is_422_with_each_reason(
    client: TestClient, publisher: Any
) -> None:
    body = {**USPS, "trackingEvents": USPS["trackingEvents"][1:]}
    r = post(client, "usps", body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "trackingEvents[0]" in detail and "trackingEvents[1]" in detail
    assert publisher.sent == []


def test_a_scan_outside_the_event_time_window_is_skipped_beside_good_ones() -> None:
    body = {
        "tracking_number": "ONT-7",
        "events": [
            {"code": "in_transit", "time": "2026-11-27T12:00:00Z"},
            {"code": "delivered", "time": "1960-01-01T00:00:00Z"},
        ],
    }
    push = read_push("generic", json.dumps(body).encode())
    assert len(push.events) == 1
    (skip,) = push.skipped
    assert skip.where == "events[1]" and "time" in skip.reason


def test_the_same_scan_twice_is_one_event_but_both_are_listed() -> None:
    one = USPS["trackingEvents"][0]
    body = {**USPS, "trackingEvents": [one, one]}
    push = read_push("usps", json.dumps(body).encode())
    assert len(push.events) == 1 and len(push.accepted) == 2
    assert push.accepted[0].event_id == push.accepted[1].event_id


def test_more_than_a_hundred_scans_is_refused_whole() -> None:
    body = {**USPS, "trackingEvents": USPS["trackingEvents"][:1] * 101}
    with pytest.raises(WebhookPayloadError, match="at most 100"):
        read_push("usps", json.dumps(body).encode())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = [
    "trackingNumber",
    "activityStatus",
    "trackResponse",
    "output",
    "shipments",
    "trackingEvents",
    "scanEvents",
    "events",
    "id",
    "timestamp",
    "date",
    "time",
    "gmtOffset",
    "GMTOffset",
]
SHAPED = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(carrier=st.sampled_from(["ups", "fedex", "dhl", "usps", "ontrac"]), body=SHAPED)
def test_any_json_body_is_accepted_or_refused_never_a_crash(carrier: str, body: Any) -> None:
    try:
        push = read_push(carrier, json.dumps(body).encode())
    except WebhookPayloadError as e:
        assert str(e)
    else:
        assert push.events and len(push.accepted) >= len(push.events)


PAYLOADS: dict[str, Any] = json.loads((Path(__file__).parent / "payloads.json").read_text())
SCAN_FIELDS = {
    "ups": (None, ["gmtOffset", "localActivityDate", "localActivityTime", "activityStatus"]),
    "fedex": ("scanEvents", ["date", "eventType", "derivedStatusCode", "scanLocation"]),
    "usps": ("trackingEvents", ["eventTimestamp", "eventCode", "GMTOffset", "GMTTimestamp"]),
    "generic": ("events", ["code", "time", "location"]),
}


@settings(max_examples=200, deadline=None)
@given(
    carrier=st.sampled_from(sorted(SCAN_FIELDS)),
    pick=st.integers(min_value=0, max_value=3),
    value=JSON,
)
def test_a_documented_body_with_one_field_spoiled_never_crashes(
    carrier: str, pick: int, value: Any
) -> None:
    body = json.loads(json.dumps(PAYLOADS[carrier]))
    key, fields = SCAN_FIELDS[carrier]
    scan = body if key is None else body[key][0]
    scan[fields[pick % len(fields)]] = value
    try:
        push = read_push(carrier, json.dumps(body).encode())
    except WebhookPayloadError as e:
        assert str(e)
    else:
        assert len(push.accepted) + len(push.skipped) == (1 if key is None else len(body[key]))


@pytest.mark.parametrize(
    ("carrier", "body"),
    [
        (
            "fedex",
            {"trackingNumber": "7946", "scanEvents": [{"eventType": "PU", "date": 1796300000}]},
        ),
        (
            "dhl",
            {"shipments": [{"id": "1", "events": [{"typeCode": "AF", "timestamp": 1796300000}]}]},
        ),
        (
            "usps",
            {
                "trackingNumber": "9400",
                "trackingEvents": [{"eventCode": "01", "eventTimestamp": 1796300000}],
            },
        ),
        (
            "generic",
            {"tracking_number": "T", "events": [{"code": "delivered", "time": 1796300000}]},
        ),
    ],
)
def test_unix_seconds_accepted_before_are_still_accepted(carrier: str, body: Any) -> None:
    (a,) = read_push(carrier, json.dumps(body).encode()).accepted
    assert a.report.time == datetime.fromtimestamp(1796300000, UTC)
