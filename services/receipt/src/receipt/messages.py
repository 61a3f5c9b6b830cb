"""The `data` of every event the receipt service consumes and publishes (contract v1, §3-4)."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator, Field, model_validator

from shared.bounds import BoundedDate, Factor, Qty, Ratio, Text, Total
from shared.bounds import Id as Key
from shared.bounds import UtcDatetime as UtcDatetime  # a date-only value is midnight UTC
from shared.schema import Inbound, Outbound


def _blank_to_none(v: object) -> object:
    return None if isinstance(v, str) and not v.strip() else v


OptionalKey = Annotated[Key | None, BeforeValidator(_blank_to_none)]
"""Optional id; an empty string is treated as absent."""

ExceptionKind = Literal[
    "over_receipt", "unexpected_item", "substitution", "damaged", "short_receipt", "missing_lot"
]
EXCEPTION_KINDS: tuple[str, ...] = get_args(ExceptionKind)
PoStatus = Literal["open", "partially_received", "received", "cancelled"]


# ---- consumed ---------------------------------------------------------------------------------


class ItemUpdated(Inbound):
    sku: Key
    base_uom: Key
    uom_conversions: dict[Key, Factor] = Field(default_factory=dict)
    safety_stock: dict[Key, Qty] | None = None


class PoLineIn(Inbound):
    line_id: Key
    sku: Key
    qty: Qty
    uom: OptionalKey = None
    lot_tracked: bool = False
    over_receipt_tolerance_pct: Ratio | None = None


class PurchaseOrderReleased(Inbound):
    po_id: Key
    supplier_id: Key
    location: Key
    expected_date: UtcDatetime
    lines: list[PoLineIn] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_lines(self) -> PurchaseOrderReleased:
        ids = [ln.line_id for ln in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError("line_id values must be unique within a purchase order")
        return self


class PurchaseOrderCancelled(Inbound):
    po_id: Key
    reason: Text | None = None


class AsnLineIn(Inbound):
    po_line_id: Key
    sku: Key
    qty: Qty
    uom: OptionalKey = None  # not in contract v1 (base units); accepted as an addition


class AsnReceived(Inbound):
    asn_id: Key
    po_id: Key
    location: Key
    expected_date: UtcDatetime
    lines: list[AsnLineIn] = Field(min_length=1)


class ReceiptLineIn(Inbound):
    po_line_id: OptionalKey = None
    sku: Key
    qty_received: Qty
    qty_damaged: Qty | None = None
    uom: OptionalKey = None
    lot: OptionalKey = None
    substitute_for_sku: OptionalKey = None

    @model_validator(mode="after")
    def _damaged_within_received(self) -> ReceiptLineIn:
        if (self.qty_damaged or 0) > self.qty_received:
            raise ValueError(
                "qty_damaged cannot exceed qty_received (damaged units are part of it)"
            )
        return self


class ReceiptRecorded(Inbound):
    receipt_id: Key
    location: Key
    po_id: OptionalKey = None
    asn_id: OptionalKey = None
    lines: list[ReceiptLineIn] = Field(min_length=1)


# ---- published --------------------------------------------------------------------------------


class ConfirmedLine(Outbound):
    sku: Key
    qty_accepted: Total
    qty_quarantined: Total
    lot: Key | None = None


class ReceiptConfirmed(Outbound):
    """Availability adds accepted + quarantined to on_hand and quarantined to quarantined.

    `received_at` (a distsync addition) is the receipt's event time at the WMS, so that a
    consumer can order the goods against cycle counts; the envelope `time` is the confirmation's.
    """

    receipt_id: Key
    po_id: Key | None = None
    location: Key
    lines: list[ConfirmedLine]
    received_at: UtcDatetime | None = None


class ReceiptException(Outbound):
    receipt_id: Key
    po_id: Key | None = None
    sku: Key
    kind: ExceptionKind
    qty: Total
    detail: Text


class InboundChanged(Outbound):
    """Absolute quantity still expected; `next_expected_date` is a UTC calendar date."""

    sku: Key
    location: Key
    inbound_qty: Total
    next_expected_date: BoundedDate | None = None


class PurchaseOrderStatusChanged(Outbound):
    po_id: Key
    status: PoStatus


class InventoryQuarantined(Outbound):
    """Confirmed units put on hold: a receipt re-checked once its PO's cancellation was known."""

    location: Key
    sku: Key
    qty: Total
    reason_code: Key


class InventoryReleased(InventoryQuarantined):
    """Confirmed units taken off hold: a receipt re-checked once its PO's cancellation was known."""
