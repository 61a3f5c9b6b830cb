"""Event payloads (`data`) the returns service consumes and publishes, contract version 1."""

from __future__ import annotations

from typing import Literal

from shared.bounds import Id, Qty, Text, Total, UtcDatetime
from shared.schema import Inbound, Outbound

Disposition = Literal["restock", "refurbish", "scrap", "return_to_vendor"]
DISPOSITIONS: tuple[Disposition, ...] = ("restock", "refurbish", "scrap", "return_to_vendor")
Status = Literal[
    "authorized",
    "partially_received",
    "received",
    "inspected",
    "completed",
    "expired",
    "rejected",
]


# -- consumed ---------------------------------------------------------------------------------


class AuthorizedLine(Inbound):
    line_id: Id
    sku: Id
    qty: Qty
    reason: Text


class ReturnAuthorized(Inbound):
    """`return.authorized` (erp, commerce); quantities are base units (lines carry no uom)."""

    rma_id: Id
    order_id: Id
    location: Id
    lines: list[AuthorizedLine]
    expires_at: UtcDatetime | None = None  # without an offset: UTC, as the envelope's `time`


class ReceivedLine(Inbound):
    sku: Id
    qty: Qty


class ReturnReceived(Inbound):
    """`return.received` (wms): units physically received against an RMA."""

    rma_id: Id
    location: Id
    lines: list[ReceivedLine]


class InspectedLine(Inbound):
    sku: Id
    qty: Qty
    disposition: Disposition


class ReturnInspected(Inbound):
    """`return.inspected` (wms): received units given a disposition."""

    rma_id: Id
    location: Id
    lines: list[InspectedLine]


# -- published on returns.events ---------------------------------------------------------------


class ReturnStatusChanged(Outbound):
    """`return.status_changed`: the RMA reached `status`."""

    rma_id: Id
    order_id: Id
    status: Status


class ReturnStockReceived(Outbound):
    """`return.stock_received`: units on hand, held in quarantine for inspection."""

    rma_id: Id
    location: Id
    sku: Id
    qty: Total


class ReturnStockDispositioned(Outbound):
    """`return.stock_dispositioned`: inspected units and what happens to them."""

    rma_id: Id
    location: Id
    sku: Id
    qty: Total
    disposition: Disposition


class ReturnsPendingChanged(Outbound):
    """`returns.pending_changed`: absolute authorized-not-yet-received qty over open RMAs."""

    sku: Id
    location: Id
    pending_qty: Total
