"""Validation of consumed payloads, and the bounds of what the receipt service publishes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from receipt.messages import (
    InboundChanged,
    ItemUpdated,
    PurchaseOrderReleased,
    ReceiptException,
    ReceiptRecorded,
)
from shared.bounds import MAX_FACTOR, MAX_QTY, MAX_TOTAL

PO = {
    "po_id": "PO-1",
    "supplier_id": "SUP-1",
    "location": "DC-EAST",
    "expected_date": "2026-12-01",
    "lines": [{"line_id": "1", "sku": "S", "qty": 10}],
}


def po_line(**changes: object) -> dict:
    return {**PO, "lines": [{"line_id": "1", "sku": "S", "qty": 10, **changes}]}


@pytest.mark.parametrize("qty", [1e308, float("inf"), MAX_QTY * 2, 10**400, -1])
def test_an_ordered_quantity_must_be_finite_and_bounded(qty):
    with pytest.raises(ValidationError):
        PurchaseOrderReleased.model_validate(po_line(qty=qty))


@pytest.mark.parametrize("qty", [1e308, float("inf"), MAX_QTY * 2])
def test_a_received_quantity_must_be_finite_and_bounded(qty):
    with pytest.raises(ValidationError):
        ReceiptRecorded.model_validate(
            {"receipt_id": "R", "location": "A", "lines": [{"sku": "S", "qty_received": qty}]}
        )


def test_a_tolerance_must_be_finite():
    with pytest.raises(ValidationError):
        PurchaseOrderReleased.model_validate(po_line(over_receipt_tolerance_pct=float("inf")))


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "1969-12-31"]
)
def test_an_expected_date_outside_the_calendar_is_a_validation_error(when):
    with pytest.raises(ValidationError, match="expected_date"):
        PurchaseOrderReleased.model_validate({**PO, "expected_date": when})


def test_conversion_factors_are_bounded():
    assert ItemUpdated.model_validate(
        {"sku": "S", "base_uom": "EA", "uom_conversions": {"P": MAX_FACTOR}}
    )
    with pytest.raises(ValidationError):
        ItemUpdated.model_validate({"sku": "S", "base_uom": "EA", "uom_conversions": {"P": 1e308}})


def test_an_inbound_total_beyond_the_published_bound_is_never_published():
    assert InboundChanged(sku="S", location="A", inbound_qty=MAX_TOTAL)
    for qty in (MAX_TOTAL * 2, 1e308, float("inf")):
        with pytest.raises(ValidationError):
            InboundChanged(sku="S", location="A", inbound_qty=qty)


def test_an_exception_detail_is_cut_to_the_free_text_bound():
    e = ReceiptException(receipt_id="R", sku="S", kind="damaged", qty=1, detail="d" * 5000)
    assert len(e.detail) == 1024
