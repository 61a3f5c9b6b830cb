"""Event payloads (`data`) availability consumes and publishes, contract version 1 (§3-4).

Consumed models require what availability uses and accept the descriptive fields it does not use
(order, shipment, RMA ids, users, reason codes) as optional, so a publisher that leaves one out
does not strand a stock movement in the dead-letter queue. Every quantity also accepts an
optional `uom` (contract §1: a quantity without `uom` is in the item's base unit).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.bounds import MAX_QTY as MAX_QTY  # the HTTP check's bound too
from shared.bounds import (
    BoundedDate,
    Delta,
    Factor,
    Id,
    PositionQty,
    Qty,
    ShortStr,
    Text,
    Total,
    UtcDatetime,
)
from shared.schema import Inbound, Outbound

Key = Id
"""A SKU, a site code or another id (shared.bounds)."""
Uom = Annotated[str, StringConstraints(min_length=1, max_length=32)]
Disposition = Literal["restock", "refurbish", "scrap", "return_to_vendor"]


# -- consumed: erp.events -----------------------------------------------------------------------


class ItemUpdated(Inbound):
    """`item.updated`: base unit, conversions and (when present, the full map) safety stock."""

    sku: Key
    base_uom: Uom
    uom_conversions: dict[Uom, Factor] = Field(default_factory=dict)
    safety_stock: dict[Key, Qty] | None = None


class AllocationLine(Inbound):
    line_id: ShortStr | None = None
    sku: Key
    location: Key
    qty: Qty
    uom: Uom | None = None


class OrderAllocated(Inbound):
    """`order.allocated`: quantities newly allocated per line."""

    order_id: ShortStr | None = None
    lines: list[AllocationLine]


class OrderDeallocated(Inbound):
    """`order.deallocated`: quantities released from allocation per line."""

    order_id: ShortStr | None = None
    lines: list[AllocationLine]
    reason: Text | None = None


# -- consumed: wms.events -----------------------------------------------------------------------


class InventoryAdjusted(Inbound):
    location: Key
    sku: Key
    qty_delta: Delta
    uom: Uom | None = None
    reason_code: ShortStr | None = None
    user: Text | None = None
    lot: ShortStr | None = None


class InventoryCounted(Inbound):
    """`inventory.counted`: authoritative on-hand at the event time."""

    location: Key
    sku: Key
    counted_qty: Qty
    uom: Uom | None = None
    user: Text | None = None


class InventoryQuarantined(Inbound):
    """`inventory.quarantined`: from the WMS, or from the receipt service, which holds a PO's
    re-checked receipts at once and so may send up to MAX_TOTAL."""

    location: Key
    sku: Key
    qty: Total
    uom: Uom | None = None
    reason_code: ShortStr | None = None


class InventoryReleased(InventoryQuarantined):
    """`inventory.released`: quarantined units become sellable again."""


class ShipmentLine(Inbound):
    line_id: ShortStr | None = None
    sku: Key
    qty: Qty
    uom: Uom | None = None


class ShipmentShipped(Inbound):
    """`shipment.shipped`: the lines leave `location`, lowering on_hand and allocated."""

    shipment_id: ShortStr | None = None
    order_id: ShortStr | None = None
    location: Key
    carrier: ShortStr | None = None
    tracking_number: ShortStr | None = None
    lines: list[ShipmentLine]


class TransferLine(Inbound):
    sku: Key
    qty: Qty
    uom: Uom | None = None


class TransferShipped(Inbound):
    transfer_id: ShortStr | None = None
    from_location: Key
    to_location: Key
    lines: list[TransferLine]


class TransferReceived(Inbound):
    transfer_id: ShortStr | None = None
    to_location: Key
    lines: list[TransferLine]


# -- consumed: receipt.events ------------------------------------------------------------------


class ConfirmedLine(Inbound):
    """Published by the receipt service: a receipt's lines summed per SKU and lot."""

    sku: Key
    qty_accepted: Total
    qty_quarantined: Total = 0.0
    uom: Uom | None = None
    lot: ShortStr | None = None


class ReceiptConfirmed(Inbound):
    """`receipt.confirmed`: accepted + quarantined units arrive on hand, quarantined held.

    `received_at` (a distsync addition) is when the WMS received the goods; the envelope `time`
    is when the receipt service confirmed them, which can be after a cycle count that saw them.
    """

    receipt_id: ShortStr | None = None
    po_id: ShortStr | None = None
    location: Key
    lines: list[ConfirmedLine]
    received_at: UtcDatetime | None = None


class InboundChanged(Inbound):
    """`inbound.changed`: absolute quantity still expected on open POs, as of the event time."""

    sku: Key
    location: Key
    inbound_qty: Total
    next_expected_date: BoundedDate | None = None


# -- consumed: returns.events ------------------------------------------------------------------


class ReturnStockReceived(Inbound):
    """`return.stock_received`: on hand, held in quarantine for inspection."""

    rma_id: ShortStr | None = None
    location: Key
    sku: Key
    qty: Total
    uom: Uom | None = None


class ReturnStockDispositioned(ReturnStockReceived):
    disposition: Disposition


class ReturnsPendingChanged(Inbound):
    """`returns.pending_changed`: absolute authorized-not-yet-received quantity."""

    sku: Key
    location: Key
    pending_qty: Total


# -- published on availability.events ----------------------------------------------------------


class AvailabilityNumbers(Outbound):
    """Every bucket of a position, in base units, plus the two derived figures (contract §5)."""

    on_hand: PositionQty
    allocated: PositionQty
    quarantined: PositionQty
    in_transit: PositionQty
    inbound: PositionQty
    returns_pending: PositionQty
    safety_stock: PositionQty
    available_to_sell: PositionQty
    available_to_promise: PositionQty


class AvailabilityChanged(AvailabilityNumbers):
    """`availability.changed`: a position's numbers changed; `version` grows by one per change,
    `as_of` is the latest event time applied to the position."""

    sku: Key
    location: Key
    version: int
    as_of: UtcDatetime


class AvailabilityVarianceDetected(Outbound):
    """`availability.variance_detected`: a cycle count against on-hand as of its time."""

    sku: Key
    location: Key
    expected_on_hand: PositionQty
    counted_on_hand: PositionQty
    variance: PositionQty
    counted_at: UtcDatetime
