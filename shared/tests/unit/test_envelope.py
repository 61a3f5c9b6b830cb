from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.envelope import EnvelopeError, amqp_properties, build, format_time, parse

EXAMPLE = {
    "specversion": "1.0",
    "id": "6f1c2a9e-2f5b-4a4e-9b1e-0d7c7c0f6a11",
    "source": "wms/dc-east",
    "type": "inventory.adjusted",
    "time": "2026-11-27T10:15:00.123Z",
    "datacontenttype": "application/json",
    "correlationid": "ORD-5001",
    "data": {"location": "DC-EAST", "sku": "SKU-1001", "qty_delta": -3},
}


def test_the_contract_example_parses_with_its_extensions_and_system():
    ev = parse(json.dumps(EXAMPLE).encode())
    assert ev.id == EXAMPLE["id"] and ev.type == "inventory.adjusted"
    assert ev.correlationid == "ORD-5001" and ev.system == "wms"
    assert ev.time == datetime(2026, 11, 27, 10, 15, 0, 123000, tzinfo=UTC)


def test_unknown_extensions_are_kept_not_rejected():
    ev = parse(json.dumps({**EXAMPLE, "traceparent": "00-abc"}).encode())
    assert ev.model_extra == {"traceparent": "00-abc"}


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"\xff\xfe", "malformed"),
        (b"{", "malformed"),
        (b"[1, 2]", "not_cloudevent"),
        (json.dumps({**EXAMPLE, "specversion": "0.3"}).encode(), "not_cloudevent"),
        (json.dumps({k: v for k, v in EXAMPLE.items() if k != "id"}).encode(), "not_cloudevent"),
        (json.dumps({**EXAMPLE, "time": "yesterday"}).encode(), "not_cloudevent"),
    ],
)
def test_bodies_that_are_not_cloudevents_are_refused_with_a_kind(body, kind):
    with pytest.raises(EnvelopeError) as e:
        parse(body)
    assert e.value.kind == kind and e.value.reason


def test_a_naive_time_is_read_as_utc():
    ev = parse(json.dumps({**EXAMPLE, "time": "2026-11-27T10:15:00"}).encode())
    assert ev.time.tzinfo is not None and ev.time.utcoffset().total_seconds() == 0


def test_build_round_trips_and_amqp_properties_mirror_the_envelope():
    ev = build(
        "order.created",
        {"order_id": "O-1"},
        source="erp/main",
        correlationid="O-1",
        causationid="c-1",
    )
    back = parse(ev.to_json_bytes())
    assert back == ev
    props = amqp_properties(ev)
    assert props["message_id"] == ev.id and props["type"] == "order.created"
    assert props["correlation_id"] == "O-1" and props["delivery_mode"] == 2
    assert props["timestamp"] == ev.time


def test_time_is_written_in_rfc3339_with_milliseconds_and_z():
    assert (
        format_time(datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"
    )
