"""Webhook functions: HMAC signatures, each carrier's payload shape, deterministic event ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from carrier_tracking.messages import TrackingReported
from carrier_tracking.webhooks import (
    WEBHOOK_CARRIERS,
    WebhookPayloadError,
    carrier_name,
    check_signature,
    event_id,
    events_from_push,
    parse_push,
    push_schema,
    sign,
)

PAYLOADS: dict[str, Any] = json.loads((Path(__file__).parent / "payloads.json").read_text())


def body(carrier: str, **changes: Any) -> bytes:
    return json.dumps({**PAYLOADS[carrier], **changes}).encode()


def test_signature_over_the_raw_body_is_accepted() -> None:
    raw = body("ups")
    assert check_signature("s3cret", raw, sign("s3cret", raw)) is None


def test_signature_hex_is_compared_without_regard_to_case() -> None:
    raw = body("ups")
    header = "SHA256=" + sign("s3cret", raw).partition("=")[2].upper()
    assert check_signature("s3cret", raw, header) is None


def test_signature_with_another_secret_is_invalid() -> None:
    raw = body("ups")
    assert check_signature("s3cret", raw, sign("other", raw)) == "invalid"


def test_signature_of_a_different_body_is_invalid() -> None:
    raw = body("ups")
    assert check_signature("s3cret", raw + b" ", sign("s3cret", raw)) == "invalid"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_signature_is_reported_as_missing(header: str | None) -> None:
    assert check_signature("s3cret", b"{}", header) == "missing"


@pytest.mark.parametrize("header", ["abc123", "md5=abc", "sha256="])
def test_signature_without_the_sha256_scheme_is_malformed(header: str) -> None:
    assert check_signature("s3cret", b"{}", header) == "malformed"


def test_non_ascii_signature_is_invalid_not_an_error() -> None:
    assert check_signature("s3cret", b"{}", "sha256=é") == "invalid"


def test_ups_push_uses_the_activity_code_with_the_status_type_as_fallback() -> None:
    (r,) = parse_push("ups", body("ups"))
    assert (r.tracking_number, r.native_code, r.native_type) == ("1Z999AA10123456784", "AR", "I")
    assert r.time == datetime(2026, 11, 27, 15, 15, tzinfo=UTC)
    assert r.location == "Louisville, KY, US" and r.description == "Arrived at Facility"


def test_ups_push_with_gmt_time_and_only_a_status_type() -> None:
    raw = body(
        "ups",
        gmtActivityDate="20261127",
        gmtActivityTime="151500",
        activityStatus={"type": "D", "description": "Delivered"},
    )
    (r,) = parse_push("ups", raw)
    assert (r.native_code, r.native_type, r.time) == (
        "D",
        None,
        datetime(2026, 11, 27, 15, 15, tzinfo=UTC),
    )


def test_fedex_push_gives_one_report_per_scan_event() -> None:
    reports = parse_push("fedex", body("fedex"))
    assert [(r.native_code, r.native_type) for r in reports] == [("PU", "PU"), ("DE", "DE")]
    assert reports[0].time == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert reports[1].description == "Delivery exception: Customer refused delivery"


def test_dhl_push_uses_the_event_code_or_else_the_status_code() -> None:
    reports = parse_push("dhl", body("dhl"))
    assert [(r.native_code, r.native_type) for r in reports] == [
        ("AF", "transit"),
        ("delivered", None),
    ]
    assert reports[0].location == "LEIPZIG - GERMANY"
    assert reports[0].time == datetime(2026, 11, 27, 9, 15, tzinfo=UTC)


def test_usps_push_reads_event_codes() -> None:
    (r,) = parse_push("usps", body("usps"))
    assert (r.native_code, r.description) == ("59", "Out for Delivery")
    assert r.location == "BROOKLYN, NY, 11201, US"


def test_generic_push_is_the_shape_for_carriers_without_their_own() -> None:
    (r,) = parse_push("ontrac", body("generic"))
    assert (r.tracking_number, r.native_code) == ("ONT-0001", "in_transit")


@pytest.mark.parametrize(
    ("carrier", "raw", "message"),
    [
        ("ups", b"not json", "not valid JSON"),
        ("ups", b"[1, 2]", "JSON object"),
        ("ups", b"\xff\xfe", "not valid JSON"),
        ("ups", json.dumps({"trackingNumber": "1Z"}).encode(), "activityStatus"),
        ("ups", body("ups", activityStatus={"description": "?"}), "type or a code"),
        ("ups", body("ups", gmtOffset=None), "gmtOffset"),
        ("ups", body("ups", localActivityDate="27-11-2026"), "localActivityDate"),
        ("fedex", body("fedex", scanEvents=[]), "scanEvents"),
        (
            "fedex",
            body("fedex", scanEvents=[{"eventType": "PU", "date": "2026-11-27T09:00:00"}]),
            "timezone",
        ),
        (
            "dhl",
            body("dhl", shipments=[{"id": "1", "events": [{"timestamp": "2026-11-27T10:00Z"}]}]),
            "typeCode or a statusCode",
        ),
        ("usps", body("usps", trackingEvents=[{"eventCode": "01"}]), "eventTimestamp"),
        ("generic", body("generic", tracking_number=""), "tracking_number"),
        ("generic", body("generic", tracking_number="X" * 80), "tracking_number"),
    ],
)
def test_malformed_push_is_refused_with_a_readable_reason(
    carrier: str, raw: bytes, message: str
) -> None:
    with pytest.raises(WebhookPayloadError, match=message):
        events_from_push(carrier, raw)


def test_push_becomes_tracking_reported_cloudevents_from_the_carrier_webhook() -> None:
    events = events_from_push("fedex", body("fedex"))
    assert [e.type for e in events] == ["tracking.reported", "tracking.reported"]
    assert {e.source for e in events} == {"carrier/fedex-webhook"}
    assert events[0].time == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    data = TrackingReported.model_validate(events[1].data)
    assert (data.carrier, data.tracking_number, data.native_code) == ("fedex", "794644790138", "DE")


def test_tracking_number_in_the_event_is_normalised() -> None:
    (ev,) = events_from_push("usps", body("usps"))
    assert ev.data["tracking_number"] == "9400111899223197428490"


def test_re_sent_push_produces_the_same_event_ids() -> None:
    first = [e.id for e in events_from_push("dhl", body("dhl"))]
    again = [e.id for e in events_from_push("dhl", body("dhl"))]
    assert first == again and len(set(first)) == 2


def test_event_id_depends_on_carrier_tracking_code_and_time_only() -> None:
    t = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert event_id("ups", "1Z", "AR", t) == event_id("ups", "1Z", "ar", t)
    assert event_id("ups", "1Z", "AR", t) != event_id("ups", "1Z", "DP", t)
    assert event_id("ups", "1Z", "AR", t) != event_id("fedex", "1Z", "AR", t)


def test_the_same_scan_twice_in_one_push_is_published_once() -> None:
    one = PAYLOADS["usps"]["trackingEvents"][0]
    events = events_from_push("usps", body("usps", trackingEvents=[one, one]))
    assert len(events) == 1


@pytest.mark.parametrize(
    ("raw", "name"), [("UPS", "ups"), ("fedex", "fedex"), ("On-Trac", "on_trac"), ("../x", None)]
)
def test_carrier_name_in_the_url_is_normalised_or_refused(raw: str, name: str | None) -> None:
    assert carrier_name(raw) == name


EDGE_TIMES = ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"]


@pytest.mark.parametrize("at", EDGE_TIMES)
@pytest.mark.parametrize(
    ("carrier", "shape"),
    [
        ("fedex", lambda at: {"scanEvents": [{"eventType": "PU", "date": at}]}),
        (
            "dhl",
            lambda at: {
                "shipments": [{"id": "1", "events": [{"typeCode": "AF", "timestamp": at}]}]
            },
        ),
        ("usps", lambda at: {"trackingEvents": [{"eventCode": "01", "eventTimestamp": at}]}),
        ("generic", lambda at: {"events": [{"code": "delivered", "time": at}]}),
    ],
)
def test_a_scan_time_off_the_calendar_in_utc_is_a_payload_error_not_an_overflow(
    carrier: str, shape: Any, at: str
) -> None:
    with pytest.raises(WebhookPayloadError, match="outside years"):
        events_from_push(carrier, body(carrier, **shape(at)))


@pytest.mark.parametrize(
    ("date", "time", "offset"), [("99991231", "230000", "-05:00"), ("00010101", "003000", "+01:00")]
)
def test_a_ups_local_time_off_the_calendar_in_utc_is_a_payload_error(
    date: str, time: str, offset: str
) -> None:
    raw = body("ups", localActivityDate=date, localActivityTime=time, gmtOffset=offset)
    with pytest.raises(WebhookPayloadError, match="outside years"):
        events_from_push("ups", raw)


def test_a_scan_time_the_consumer_would_refuse_is_refused_at_the_webhook() -> None:
    raw = body("generic", events=[{"code": "delivered", "time": "1960-01-01T00:00:00Z"}])
    with pytest.raises(WebhookPayloadError, match="time"):
        events_from_push("generic", raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        (b'{"trackingNumber": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"trackingNumber": "1Z\\ud800", "events": []}', "unicode string"),
    ],
    ids=["10000-levels", "5000-digit-number", "lone-surrogate"],
)
def test_json_the_parser_cannot_hold_is_a_payload_error(raw: bytes, message: str) -> None:
    with pytest.raises(WebhookPayloadError, match=message):
        events_from_push("generic", raw.replace(b"trackingNumber", b"tracking_number"))


def test_push_schema_documents_every_format_without_references() -> None:
    schema = push_schema()
    assert [s["title"] for s in schema["anyOf"]] == [f"{c} push" for c in WEBHOOK_CARRIERS]
    assert "$ref" not in json.dumps(schema)
