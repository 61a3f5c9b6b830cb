"""Validation of consumed payloads: what fails here goes to the DLQ before any handler runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from carrier_tracking.messages import ShipmentShipped, TrackingReported, TrackingUpdated
from shared.bounds import MAX_QTY

SHIPPED = {
    "shipment_id": "SH-1",
    "order_id": "ORD-1",
    "carrier": "ups",
    "tracking_number": "1Z999",
    "lines": [{"line_id": "1", "sku": "S", "qty": 1}],
}


@pytest.mark.parametrize("qty", [float("inf"), float("nan"), 1e308, MAX_QTY * 2, 10**400])
def test_a_shipped_quantity_must_be_finite_and_bounded(qty):
    with pytest.raises(ValidationError):
        ShipmentShipped.model_validate(
            {**SHIPPED, "lines": [{"line_id": "1", "sku": "S", "qty": qty}]}
        )


def test_ids_that_become_correlation_ids_must_fit_an_amqp_short_string():
    with pytest.raises(ValidationError):
        ShipmentShipped.model_validate({**SHIPPED, "order_id": "€" * 100})
    with pytest.raises(ValidationError):
        ShipmentShipped.model_validate({**SHIPPED, "shipment_id": "x" * 201})


def test_a_sku_with_a_slash_is_accepted():
    d = ShipmentShipped.model_validate(
        {**SHIPPED, "lines": [{"line_id": "1", "sku": "SKU/1", "qty": 1}]}
    )
    assert d.lines[0].sku == "SKU/1"


def test_carrier_free_text_is_cut_not_refused():
    d = TrackingReported.model_validate(
        {"carrier": "ups", "tracking_number": "1Z", "native_code": "I", "description": "d" * 9000}
    )
    assert d.description is not None and len(d.description) == 300


def test_a_published_scan_time_stays_within_the_calendar():
    base = {
        "carrier": "ups",
        "tracking_number": "1Z",
        "milestone": "in_transit",
        "native_code": "I",
    }
    at = datetime(2026, 11, 27, tzinfo=UTC)
    assert TrackingUpdated(**base, at=at).at == at
    with pytest.raises(ValidationError):
        TrackingUpdated(**base, at=datetime(1, 1, 1, tzinfo=UTC))
