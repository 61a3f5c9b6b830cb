"""Validation of consumed payloads: what fails here goes to the DLQ before any handler runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from availability import messages as m


@pytest.mark.parametrize("qty", [-1, float("inf"), float("nan"), 2e9])
def test_quantities_must_be_finite_non_negative_and_bounded(qty: float) -> None:
    with pytest.raises(ValidationError):
        m.InventoryQuarantined.model_validate({"location": "A", "sku": "S", "qty": qty})


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
