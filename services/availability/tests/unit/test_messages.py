"""Validation of consumed payloads: what fails here goes to the DLQ before any handler runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from availability import messages as m
from shared.bounds import MAX_FACTOR, MAX_TEXT_CHARS, MAX_TOTAL


@pytest.mark.parametrize("qty", [-1, float("inf"), float("nan"), 2e9, 1e308, 10**400])
def test_quantities_must_be_finite_non_negative_and_bounded(qty: float) -> None:
    with pytest.raises(ValidationError):
        m.InventoryCounted.model_validate({"location": "A", "sku": "S", "counted_qty": qty})
    with pytest.raises(ValidationError):
        m.ShipmentShipped.model_validate({"location": "A", "lines": [{"sku": "S", "qty": qty}]})


@pytest.mark.parametrize("delta", [float("-inf"), -2e9, 1e308])
def test_an_adjustment_must_be_finite_and_bounded_both_ways(delta: float) -> None:
    with pytest.raises(ValidationError):
        m.InventoryAdjusted.model_validate({"location": "A", "sku": "S", "qty_delta": delta})


def test_an_adjustment_may_lower_stock() -> None:
    d = m.InventoryAdjusted.model_validate({"location": "A", "sku": "S", "qty_delta": -3})
    assert d.qty_delta == -3 and d.uom is None


def test_an_unknown_disposition_fails_validation() -> None:
    with pytest.raises(ValidationError):
        m.ReturnStockDispositioned.model_validate(
            {"location": "A", "sku": "S", "qty": 1, "disposition": "donate"}
        )


def test_fields_a_publisher_adds_are_ignored() -> None:
    d = m.ShipmentShipped.model_validate(
        {"location": "A", "lines": [{"sku": "S", "qty": 1, "weight": 3}], "dock": "7"}
    )
    assert d.lines[0].qty == 1


def test_conversions_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        m.ItemUpdated.model_validate({"sku": "S", "base_uom": "EA", "uom_conversions": {"CS": 0}})


def test_a_missing_sku_or_location_fails_validation() -> None:
    with pytest.raises(ValidationError):
        m.InventoryCounted.model_validate({"sku": "S", "counted_qty": 1})
    with pytest.raises(ValidationError):
        m.InboundChanged.model_validate({"sku": "", "location": "A", "inbound_qty": 1})


def test_conversions_are_bounded_so_a_line_in_base_units_stays_finite() -> None:
    assert m.ItemUpdated.model_validate(
        {"sku": "S", "base_uom": "G", "uom_conversions": {"T": MAX_FACTOR}}
    )
    for factor in (MAX_FACTOR * 10, float("inf"), 1e308):
        with pytest.raises(ValidationError):
            m.ItemUpdated.model_validate(
                {"sku": "S", "base_uom": "G", "uom_conversions": {"T": factor}}
            )


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (m.InboundChanged, "inbound_qty"),
        (m.ReturnsPendingChanged, "pending_qty"),
        (m.InventoryQuarantined, "qty"),
        (m.ReturnStockReceived, "qty"),
    ],
)
def test_totals_other_services_publish_are_accepted_up_to_the_published_bound(model, field):
    """shared/tests/unit/test_bounds.py checks every publisher's model against this one."""
    data = {"location": "A", "sku": "S", field: MAX_TOTAL}
    assert getattr(model.model_validate(data), field) == MAX_TOTAL
    for qty in (MAX_TOTAL * 2, 1e308, float("inf")):
        with pytest.raises(ValidationError):
            model.model_validate({**data, field: qty})


@pytest.mark.parametrize(
    "received_at", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "1969-01-01"]
)
def test_a_receipt_time_outside_the_calendar_is_a_validation_error(received_at: str) -> None:
    with pytest.raises(ValidationError):
        m.ReceiptConfirmed.model_validate(
            {"location": "A", "lines": [], "received_at": received_at}
        )


def test_a_receipt_time_without_an_offset_is_utc() -> None:
    d = m.ReceiptConfirmed.model_validate(
        {"location": "A", "lines": [], "received_at": "2026-11-27T10:00:00"}
    )
    assert d.received_at == datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_ids_are_bounded_and_may_contain_a_slash() -> None:
    assert (
        m.InventoryCounted.model_validate(
            {"location": "A", "sku": "SKU/1001", "counted_qty": 1}
        ).sku
        == "SKU/1001"
    )
    with pytest.raises(ValidationError):
        m.InventoryCounted.model_validate({"location": "A", "sku": "S" * 201, "counted_qty": 1})


def test_descriptive_fields_are_bounded_but_never_refuse_a_movement() -> None:
    d = m.InventoryAdjusted.model_validate(
        {"location": "A", "sku": "S", "qty_delta": 1, "user": "u" * 5000, "reason_code": ""}
    )
    assert d.user is not None and len(d.user) == MAX_TEXT_CHARS and d.reason_code == ""


def test_published_numbers_are_finite() -> None:
    numbers = dict.fromkeys(m.AvailabilityNumbers.model_fields, 0.0)
    with pytest.raises(ValidationError):
        m.AvailabilityNumbers(**{**numbers, "on_hand": float("inf")})
