"""The `data` of every event order-status consumes and publishes (contract sections 3 and 4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer

from shared.bounds import DateText, Id, Qty, ShortStr, Text, UtcDatetime
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
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A short code (milestone, RMA status), inside shared.bounds.Id."""


class Consumed(BaseModel):
    """Publishers may add fields, so consumed models ignore what they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class OrderLine(Consumed):
    line_id: Id
    sku: Id
    qty: Qty
    uom: ShortStr | None = None


class OrderCreated(Consumed):
    order_id: Id
    channel: ShortStr
    customer_id: ShortStr
    lines: list[OrderLine] = Field(min_length=1)
    promised_date: DateText | None = None


class LocatedLine(Consumed):
    line_id: Id
    sku: Id
    location: ShortStr
    qty: Qty


class OrderAllocated(Consumed):
    order_id: Id
    lines: list[LocatedLine]


class OrderDeallocated(Consumed):
    order_id: Id
    lines: list[LocatedLine]
    reason: Text | None = None


class QtyLine(Consumed):
    line_id: Id
    sku: Id
    qty: Qty


class OrderBackordered(Consumed):
    order_id: Id
    lines: list[QtyLine]
    expected_date: DateText | None = None


class OrderCancelled(Consumed):
    order_id: Id
    reason: Text | None = None


class OrderStatusReported(Consumed):
    order_id: Id
    native_status: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    line_id: ShortStr | None = None
    reason: Text | None = None


class PickedLine(Consumed):
    line_id: Id
    sku: Id
    qty_picked: Qty


class PickCompleted(Consumed):
    order_id: Id
    location: ShortStr
    lines: list[PickedLine]


class PackCompleted(Consumed):
    order_id: Id
    shipment_id: Id
    location: ShortStr


class ShipmentShipped(Consumed):
    shipment_id: Id
    order_id: Id
    location: ShortStr
    carrier: ShortStr
    tracking_number: ShortStr
    lines: list[QtyLine]


class ShipmentTrackingUpdated(Consumed):
    shipment_id: ShortStr | None = None
    order_id: ShortStr | None = None
    carrier: ShortStr
    tracking_number: Id
    milestone: Code
    native_code: ShortStr
    description: Text | None = None
    exception_reason: ShortStr | None = None


class ReturnStatusChanged(Consumed):
    rma_id: Id
    order_id: Id
    status: Code


class OrderStatusChanged(BaseModel):
    """Published on `order-status.events`; `previous_status` is null for an order's first status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: Id
    status: EnterpriseStatus
    previous_status: EnterpriseStatus | None
    at: UtcDatetime
    source: Id
    native_status: ShortStr | None = None
    reason: Text | None = None

    @field_serializer("at")
    def _at(self, v: datetime) -> str:
        return format_time(v)

    def to_data(self) -> dict[str, object]:
        """Optional fields are left out when empty; `previous_status` is always present."""
        d = self.model_dump(mode="json", exclude_none=True)
        d["previous_status"] = self.previous_status
        return d
