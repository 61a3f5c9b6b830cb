"""Event payloads (`data`) availability consumes and publishes, contract version 1 (§3-4).

Consumed models require what availability uses and accept the descriptive fields it does not use
(order, shipment, RMA ids, users, reason codes) as optional, so a publisher that leaves one out
does not strand a stock movement in the dead-letter queue. Every quantity also accepts an
optional `uom` (contract §1: a quantity without `uom` is in the item's base unit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_QTY = 1e9
"""Largest quantity one message may carry; keeps every stored quantity exact to 1e-6."""

Key = Annotated[str, Field(min_length=1, max_length=256)]
Uom = Annotated[str, Field(min_length=1, max_length=32)]
Qty = Annotated[float, Field(ge=0, le=MAX_QTY, allow_inf_nan=False)]
Delta = Annotated[float, Field(ge=-MAX_QTY, le=MAX_QTY, allow_inf_nan=False)]
Factor = Annotated[float, Field(gt=0, le=MAX_QTY, allow_inf_nan=False)]


def _utc(v: datetime) -> datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""A time without a UTC offset is read as UTC (docs/contract-extensions.md)."""
Disposition = Literal["restock", "refurbish", "scrap", "return_to_vendor"]


class _In(BaseModel):
    """Ingress payloads: publishers may add fields, so unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- consumed: erp.events -----------------------------------------------------------------------


class ItemUpdated(_In):
    """`item.updated`: base unit, conversions and (when present, the full map) safety stock."""

    sku: Key
    base_uom: Uom
    uom_conversions: dict[str, Factor] = Field(default_factory=dict)
    safety_stock: dict[str, Qty] | None = None


class AllocationLine(_In):
    line_id: str | None = None
    sku: Key
    location: Key
    qty: Qty
    uom: Uom | None = None


class OrderAllocated(_In):
    """`order.allocated`: quantities newly allocated per line."""

    order_id: str | None = None
    lines: list[AllocationLine]


class OrderDeallocated(_In):
    """`order.deallocated`: quantities released from allocation per line."""

    order_id: str | None = None
    lines: list[AllocationLine]
    reason: str | None = None


# -- consumed: wms.events -----------------------------------------------------------------------


class InventoryAdjusted(_In):
    location: Key
    sku: Key
    qty_delta: Delta
    uom: Uom | None = None
    reason_code: str | None = None
    user: str | None = None
    lot: str | None = None


class InventoryCounted(_In):
    """`inventory.counted`: authoritative on-hand at the event time."""

    location: Key
    sku: Key
    counted_qty: Qty
    uom: Uom | None = None
    user: str | None = None


class InventoryQuarantined(_In):
    location: Key
    sku: Key
    qty: Qty
    uom: Uom | None = None
    reason_code: str | None = None


class InventoryReleased(InventoryQuarantined):
    """`inventory.released`: quarantined units become sellable again."""


class ShipmentLine(_In):
    line_id: str | None = None
    sku: Key
    qty: Qty
    uom: Uom | None = None


class ShipmentShipped(_In):
    """`shipment.shipped`: the lines leave `location`, lowering on_hand and allocated."""

    shipment_id: str | None = None
    order_id: str | None = None
    location: Key
    carrier: str | None = None
    tracking_number: str | None = None
    lines: list[ShipmentLine]


class TransferLine(_In):
    sku: Key
    qty: Qty
    uom: Uom | None = None


class TransferShipped(_In):
    transfer_id: str | None = None
    from_location: Key
    to_location: Key
    lines: list[TransferLine]


class TransferReceived(_In):
    transfer_id: str | None = None
    to_location: Key
    lines: list[TransferLine]


# -- consumed: receipt.events ------------------------------------------------------------------


class ConfirmedLine(_In):
    sku: Key
    qty_accepted: Qty
    qty_quarantined: Qty = 0.0
    uom: Uom | None = None
    lot: str | None = None


class ReceiptConfirmed(_In):
    """`receipt.confirmed`: accepted + quarantined units arrive on hand, quarantined held.

    `received_at` (a distsync addition) is when the WMS received the goods; the envelope `time`
    is when the receipt service confirmed them, which can be after a cycle count that saw them.
    """

    receipt_id: str | None = None
    po_id: str | None = None
    location: Key
    lines: list[ConfirmedLine]
    received_at: UtcDatetime | None = None


class InboundChanged(_In):
    """`inbound.changed`: absolute quantity still expected on open POs, as of the event time."""

    sku: Key
    location: Key
    inbound_qty: Qty
    next_expected_date: str | None = None


# -- consumed: returns.events ------------------------------------------------------------------


class ReturnStockReceived(_In):
    """`return.stock_received`: on hand, held in quarantine for inspection."""

    rma_id: str | None = None
    location: Key
    sku: Key
    qty: Qty
    uom: Uom | None = None


class ReturnStockDispositioned(ReturnStockReceived):
    disposition: Disposition


class ReturnsPendingChanged(_In):
    """`returns.pending_changed`: absolute authorized-not-yet-received quantity."""

    sku: Key
    location: Key
    pending_qty: Qty


# -- published on availability.events ----------------------------------------------------------


class AvailabilityNumbers(_Out):
    """Every bucket of a position, in base units, plus the two derived figures (contract §5)."""

    on_hand: float
    allocated: float
    quarantined: float
    in_transit: float
    inbound: float
    returns_pending: float
    safety_stock: float
    available_to_sell: float
    available_to_promise: float


class AvailabilityChanged(AvailabilityNumbers):
    """`availability.changed`: a position's numbers changed; `version` grows by one per change,
    `as_of` is the latest event time applied to the position."""

    sku: str
    location: str
    version: int
    as_of: datetime


class AvailabilityVarianceDetected(_Out):
    """`availability.variance_detected`: a cycle count against on-hand as of its time."""

    sku: str
    location: str
    expected_on_hand: float
    counted_on_hand: float
    variance: float
    counted_at: datetime
