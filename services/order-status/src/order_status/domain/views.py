"""Pure value types of an order: the facts it is folded from and the view the fold produces."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import field_validator

from order_status.domain.ranks import EnterpriseStatus
from shared.schema import Frozen


class Fact(Frozen):
    """One consumed event, kept on the order so the state can be refolded in event-time order."""

    id: str
    type: str
    time: datetime
    received_at: datetime
    source: str
    data: dict[str, Any]

    @field_validator("time", "received_at")
    @classmethod
    def _millis(cls, v: datetime) -> datetime:
        """MongoDB keeps milliseconds: truncate now, so a reloaded order folds identically."""
        v = v.astimezone(UTC) if v.tzinfo else v.replace(tzinfo=UTC)
        return v.replace(microsecond=v.microsecond // 1000 * 1000)

    @property
    def system(self) -> str:
        return self.source.split("/", 1)[0].lower()

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (self.time, self.id)


class LineView(Frozen):
    line_id: str
    sku: str
    uom: str | None = None
    ordered: float = 0.0
    allocated: float = 0.0
    backordered: float = 0.0
    picked: float = 0.0
    shipped: float = 0.0
    delivered: float = 0.0
    native_status: str | None = None


class ShipmentLine(Frozen):
    line_id: str
    sku: str
    qty: float


class ShipmentView(Frozen):
    shipment_id: str | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    location: str | None = None
    lines: tuple[ShipmentLine, ...] = ()
    packed_at: datetime | None = None
    shipped_at: datetime | None = None
    milestone: str | None = None
    milestone_at: datetime | None = None
    native_code: str | None = None
    description: str | None = None
    delivered_at: datetime | None = None
    exception_reason: str | None = None


class Milestone(Frozen):
    """A status the order reached: when (event time), from which source and native status."""

    status: EnterpriseStatus
    at: datetime
    source: str
    event_id: str
    native_status: str | None = None
    reason: str | None = None


class TimelineEntry(Frozen):
    """One event in event-time order, with what it was mapped to and the status after it."""

    event_id: str
    type: str
    at: datetime
    received_at: datetime
    source: str
    status: EnterpriseStatus
    native_status: str | None = None
    mapped_status: EnterpriseStatus | None = None
    unmapped: bool = False
    mapping: str | None = None
    note: str | None = None
    reason: str | None = None
    line_id: str | None = None
    shipment_id: str | None = None


class OrderView(Frozen):
    status: EnterpriseStatus
    reason: str | None = None
    channel: str | None = None
    customer_id: str | None = None
    promised_date: str | None = None
    lines: tuple[LineView, ...] = ()
    shipments: tuple[ShipmentView, ...] = ()
    milestones: tuple[Milestone, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()

    @property
    def current(self) -> Milestone:
        return self.milestones[-1]
