"""Event payloads (`data`) the returns service consumes and publishes, contract version 1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

Id = Annotated[str, Field(min_length=1, max_length=256)]
Qty = Annotated[float, Field(ge=0, allow_inf_nan=False)]


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
    reason: str = Field(max_length=1024)


class ReturnAuthorized(_In):
    """`return.authorized` (erp, commerce); quantities are base units (lines carry no uom)."""

    rma_id: Id
    order_id: Id
    location: Id
    lines: list[AuthorizedLine]
    expires_at: datetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        """A time without an offset is UTC, as for the envelope's `time`."""
        if v is None:
            return None
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


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

    rma_id: str
    order_id: str
    status: Status


class ReturnStockReceived(_Out):
    """`return.stock_received`: units on hand, held in quarantine for inspection."""

    rma_id: str
    location: str
    sku: str
    qty: float


class ReturnStockDispositioned(_Out):
    """`return.stock_dispositioned`: inspected units and what happens to them."""

    rma_id: str
    location: str
    sku: str
    qty: float
    disposition: Disposition


class ReturnsPendingChanged(_Out):
    """`returns.pending_changed`: absolute authorized-not-yet-received qty over open RMAs."""

    sku: str
    location: str
    pending_qty: float
