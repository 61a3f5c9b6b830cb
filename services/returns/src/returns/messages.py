"""Event payloads (`data`) the returns service consumes and publishes, contract version 1."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.bounds import Id, Qty, Text, Total, UtcDatetime

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


class _In(BaseModel):
    """Ingress payloads: publishers may add fields, so unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- consumed ---------------------------------------------------------------------------------


class AuthorizedLine(_In):
    line_id: Id
    sku: Id
    qty: Qty
    reason: Text


class ReturnAuthorized(_In):
    """`return.authorized` (erp, commerce); quantities are base units (lines carry no uom)."""

    rma_id: Id
    order_id: Id
    location: Id
    lines: list[AuthorizedLine]
    expires_at: UtcDatetime | None = None  # without an offset: UTC, as the envelope's `time`


class ReceivedLine(_In):
    sku: Id
    qty: Qty


class ReturnReceived(_In):
    """`return.received` (wms): units physically received against an RMA."""

    rma_id: Id
    location: Id
    lines: list[ReceivedLine]


class InspectedLine(_In):
    sku: Id
    qty: Qty
    disposition: Disposition


class ReturnInspected(_In):
    """`return.inspected` (wms): received units given a disposition."""

    rma_id: Id
    location: Id
    lines: list[InspectedLine]


# -- published on returns.events ---------------------------------------------------------------


class ReturnStatusChanged(_Out):
    """`return.status_changed`: the RMA reached `status`."""

    rma_id: Id
    order_id: Id
    status: Status


class ReturnStockReceived(_Out):
    """`return.stock_received`: units on hand, held in quarantine for inspection."""

    rma_id: Id
    location: Id
    sku: Id
    qty: Total


class ReturnStockDispositioned(_Out):
    """`return.stock_dispositioned`: inspected units and what happens to them."""

    rma_id: Id
    location: Id
    sku: Id
    qty: Total
    disposition: Disposition


class ReturnsPendingChanged(_Out):
    """`returns.pending_changed`: absolute authorized-not-yet-received qty over open RMAs."""

    sku: Id
    location: Id
    pending_qty: Total
