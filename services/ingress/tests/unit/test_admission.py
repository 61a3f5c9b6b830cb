"""Admission against the installed services' own models and the exchange each system writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingress.admission import Admitted, Gate, Refused
from ingress.catalogue import Catalogue
from shared.bounds import EventTimeWindow

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate(Catalogue.installed(), EventTimeWindow())


def ev(type_: str, data: dict, source: str = "erp/main", **kw) -> dict:
    return {
        "specversion": "1.0",
        "id": "e-1",
        "source": source,
        "type": type_,
        "time": "2026-12-01T11:00:00Z",
        "data": data,
        **kw,
    }


ORDER = {
    "order_id": "O",
    "channel": "web",
    "customer_id": "C",
    "lines": [{"line_id": "1", "sku": "S", "qty": 1}],
}


def test_every_consumed_ingress_type_is_in_the_catalogue(gate):
    carried = gate.types_by_exchange
    assert "order.created" in carried["erp.events"]
    assert "inventory.counted" in carried["wms.events"]
    assert "asn.received" in carried["commerce.events"]
    assert "availability.changed" not in set().union(*carried.values())


def test_a_valid_event_is_admitted_to_its_systems_exchange(gate):
    got = gate.admit_object(ev("order.created", ORDER), None, NOW)
    assert isinstance(got, Admitted) and got.exchange == "erp.events"
    got = gate.admit_object(
        ev(
            "asn.received",
            {
                "asn_id": "A",
                "po_id": "P",
                "location": "DC",
                "expected_date": "2026-12-03",
                "lines": [{"po_line_id": "1", "sku": "S", "qty": 1}],
            },
            "edi/partner-1",
        ),
        None,
        NOW,
    )
    assert isinstance(got, Admitted) and got.exchange == "commerce.events"


def test_data_every_consumer_would_refuse_is_schema_invalid_with_the_fields(gate):
    bad = {"order_id": "O", "lines": [{"line_id": "1", "sku": "S", "location": "DC", "qty": -2}]}
    got = gate.admit_object(ev("order.allocated", bad), None, NOW)
    assert isinstance(got, Refused) and got.kind == "schema_invalid" and got.status == 422
    assert "availability" in got.reason and "order-status" in got.reason
    assert "qty" in got.reason


def test_data_one_consumer_alone_refuses_is_refused(gate):
    # carrier-tracking accepts a shipment without lines; order-status needs them (contract §3)
    data = {
        "shipment_id": "SH",
        "order_id": "O",
        "location": "DC",
        "carrier": "ups",
        "tracking_number": "1Z",
    }
    got = gate.admit_object(ev("shipment.shipped", data, "wms/dc"), None, NOW)
    assert isinstance(got, Refused) and "order-status" in got.reason


def test_envelope_problems_are_400(gate):
    got = gate.admit_bytes(b'{"specversion": "0.3"}', None, NOW)
    assert isinstance(got, Refused) and got.kind == "not_cloudevent" and got.status == 400
    later = ev("order.created", ORDER, time=(NOW + timedelta(days=2)).isoformat())
    got = gate.admit_object(later, None, NOW)
    assert isinstance(got, Refused) and got.kind == "out_of_range"
    got = gate.admit_bytes(json.dumps(ev("order.created", ORDER)).encode()[:-3], None, NOW)
    assert isinstance(got, Refused) and got.kind == "malformed"


def test_a_caller_may_publish_only_as_its_systems(gate):
    got = gate.admit_object(ev("order.created", ORDER), frozenset({"wms"}), NOW)
    assert isinstance(got, Refused) and got.kind == "forbidden" and got.status == 403
    got = gate.admit_object(ev("order.created", ORDER), frozenset({"erp"}), NOW)
    assert isinstance(got, Admitted)


def test_a_type_from_the_wrong_system_is_a_contract_violation(gate):
    got = gate.admit_object(ev("order.created", ORDER, "wms/dc"), None, NOW)
    assert isinstance(got, Refused) and got.kind == "contract_violation"
