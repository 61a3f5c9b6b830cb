"""The `data` of every event order-status consumes and publishes (contract sections 3 and 4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from shared.envelope import format_time

EnterpriseStatus = Literal[
    "received",
    "credit_approved",
    "partially_allocated",
    "allocated",
    "backordered",
    "picked",
    "packed",
    "partially_shipped",
    "shipped",
    "delivered",
    "exception",
    "returned",
    "cancelled",
]
Qty = Annotated[float, Field(ge=0)]
Id = Annotated[str, Field(min_length=1, max_length=256)]


class Consumed(BaseModel):
    """Publishers may add fields, so consumed models ignore what they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class OrderLine(Consumed):
    line_id: Id
    sku: Id
    qty: Qty
    uom: str | None = None


class OrderCreated(Consumed):
    order_id: Id
    channel: str
    customer_id: str
    lines: list[OrderLine] = Field(min_length=1)
    promised_date: str | None = None


class LocatedLine(Consumed):
    line_id: Id
    sku: Id
    location: str
    qty: Qty


class OrderAllocated(Consumed):
    order_id: Id
    lines: list[LocatedLine]


class OrderDeallocated(Consumed):
    order_id: Id
    lines: list[LocatedLine]
    reason: str | None = None


class QtyLine(Consumed):
    line_id: Id
    sku: Id
    qty: Qty


class OrderBackordered(Consumed):
    order_id: Id
    lines: list[QtyLine]
    expected_date: str | None = None


class OrderCancelled(Consumed):
    order_id: Id
    reason: str | None = None


class OrderStatusReported(Consumed):
    order_id: Id
    native_status: str = Field(min_length=1, max_length=128)
    line_id: str | None = None
    reason: str | None = None


class PickedLine(Consumed):
    line_id: Id
    sku: Id
    qty_picked: Qty


class PickCompleted(Consumed):
    order_id: Id
    location: str
    lines: list[PickedLine]


class PackCompleted(Consumed):
    order_id: Id
    shipment_id: Id
    location: str


class ShipmentShipped(Consumed):
    shipment_id: Id
    order_id: Id
    location: str
    carrier: str
    tracking_number: str
    lines: list[QtyLine]


class ShipmentTrackingUpdated(Consumed):
    shipment_id: str | None = None
    order_id: str | None = None
    carrier: str
    tracking_number: Id
    milestone: str = Field(min_length=1, max_length=64)
    native_code: str
    description: str | None = None
    exception_reason: str | None = None


class ReturnStatusChanged(Consumed):
    rma_id: Id
    order_id: Id
    status: str = Field(min_length=1, max_length=64)


class OrderStatusChanged(BaseModel):
    """Published on `order-status.events`; `previous_status` is null for an order's first status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str
    status: EnterpriseStatus
    previous_status: EnterpriseStatus | None
    at: datetime
    source: str
    native_status: str | None = None
    reason: str | None = None

    @field_serializer("at")
    def _at(self, v: datetime) -> str:
        return format_time(v)

    def to_data(self) -> dict[str, object]:
        """Optional fields are left out when empty; `previous_status` is always present."""
        d = self.model_dump(mode="json", exclude_none=True)
        d["previous_status"] = self.previous_status
        return d
