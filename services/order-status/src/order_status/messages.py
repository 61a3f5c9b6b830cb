"""The `data` of every event order-status consumes and publishes (contract sections 3 and 4)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from order_status.domain.ranks import EnterpriseStatus
from shared.bounds import DateText, Id, Qty, ShortStr, Text
from shared.schema import Inbound, MillisTime, Outbound

Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
"""A short code (milestone, RMA status), inside shared.bounds.Id."""


class OrderLine(Inbound):
    line_id: Id
    sku: Id
    qty: Qty
    uom: ShortStr | None = None


class OrderCreated(Inbound):
    order_id: Id
    channel: ShortStr
    customer_id: ShortStr
    lines: list[OrderLine] = Field(min_length=1)
    promised_date: DateText | None = None


class LocatedLine(Inbound):
    line_id: Id
    sku: Id
    location: ShortStr
    qty: Qty


class OrderAllocated(Inbound):
    order_id: Id
    lines: list[LocatedLine]


class OrderDeallocated(Inbound):
    order_id: Id
    lines: list[LocatedLine]
    reason: Text | None = None


class QtyLine(Inbound):
    line_id: Id
    sku: Id
    qty: Qty


class OrderBackordered(Inbound):
    order_id: Id
    lines: list[QtyLine]
    expected_date: DateText | None = None


class OrderCancelled(Inbound):
    order_id: Id
    reason: Text | None = None


class OrderStatusReported(Inbound):
    order_id: Id
    native_status: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    line_id: ShortStr | None = None
    reason: Text | None = None


class PickedLine(Inbound):
    line_id: Id
    sku: Id
    qty_picked: Qty


class PickCompleted(Inbound):
    order_id: Id
    location: ShortStr
    lines: list[PickedLine]


class PackCompleted(Inbound):
    order_id: Id
    shipment_id: Id
    location: ShortStr


class ShipmentShipped(Inbound):
    shipment_id: Id
    order_id: Id
    location: ShortStr
    carrier: ShortStr
    tracking_number: ShortStr
    lines: list[QtyLine]


class ShipmentTrackingUpdated(Inbound):
    shipment_id: ShortStr | None = None
    order_id: ShortStr | None = None
    carrier: ShortStr
    tracking_number: Id
    milestone: Code
    native_code: ShortStr
    description: Text | None = None
    exception_reason: ShortStr | None = None


class ReturnStatusChanged(Inbound):
    rma_id: Id
    order_id: Id
    status: Code


class OrderStatusChanged(Outbound):
    """Published on `order-status.events`; `previous_status` is null for an order's first status."""

    order_id: Id
    status: EnterpriseStatus
    previous_status: EnterpriseStatus | None
    at: MillisTime
    source: Id
    native_status: ShortStr | None = None
    reason: Text | None = None

    def to_data(self) -> dict[str, object]:
        """Optional fields are left out when empty; `previous_status` is always present."""
        d = self.model_dump(mode="json", exclude_none=True)
        d["previous_status"] = self.previous_status
        return d
