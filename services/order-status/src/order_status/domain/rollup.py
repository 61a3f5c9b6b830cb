"""The roll-up of an order's lines and shipments: per-line quantities, shipments, and the
status the quantities alone say (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from order_status.domain.ranks import RANK
from order_status.domain.views import LineView, ShipmentLine, ShipmentView

EPS = 1e-9


@dataclass
class Line:
    line_id: str
    sku: str
    uom: str | None = None
    ordered: float = 0.0
    allocated: float = 0.0
    backordered: float = 0.0
    picked: float = 0.0
    shipped: float = 0.0  # on shipments reported shipped
    delivered: float = 0.0  # on shipments delivered
    native_status: str | None = None
    claim: str | None = None  # highest status a line-level report claimed


@dataclass
class Shipment:
    shipment_id: str | None
    tracking_number: str | None
    carrier: str | None = None
    location: str | None = None
    lines: list[ShipmentLine] = field(default_factory=list)
    confirmed: bool = False  # a shipment.shipped has reported its lines
    packed_at: datetime | None = None
    shipped_at: datetime | None = None
    milestone: str | None = None
    milestone_at: datetime | None = None
    native_code: str | None = None
    description: str | None = None
    delivered_at: datetime | None = None
    exception_reason: str | None = None

    @property
    def key(self) -> str:
        return self.shipment_id or f"tracking:{self.tracking_number}"

    def view(self) -> ShipmentView:
        return ShipmentView(
            shipment_id=self.shipment_id,
            tracking_number=self.tracking_number,
            carrier=self.carrier,
            location=self.location,
            lines=tuple(self.lines),
            packed_at=self.packed_at,
            shipped_at=self.shipped_at,
            milestone=self.milestone,
            milestone_at=self.milestone_at,
            native_code=self.native_code,
            description=self.description,
            delivered_at=self.delivered_at,
            exception_reason=self.exception_reason,
        )


class Quantities:
    """Per-line quantities of one order and the status they roll up to."""

    def __init__(self) -> None:
        self.lines: dict[str, Line] = {}
        self.shipments: list[Shipment] = []
        self.created = False

    def line(self, line_id: str, sku: str) -> Line:
        if line_id not in self.lines:
            self.lines[line_id] = Line(line_id=line_id, sku=sku)
        return self.lines[line_id]

    def shipment(self, shipment_id: str | None, tracking: str | None) -> Shipment:
        for s in self.shipments:
            if (shipment_id and s.shipment_id == shipment_id) or (
                tracking and s.tracking_number == tracking
            ):
                if shipment_id and not s.shipment_id:
                    s.shipment_id = shipment_id
                if tracking and not s.tracking_number:
                    s.tracking_number = tracking
                return s
        s = Shipment(shipment_id=shipment_id, tracking_number=tracking)
        self.shipments.append(s)
        return s

    def confirm(self, s: Shipment, lines: list[ShipmentLine]) -> None:
        """A shipment's lines are known (first shipment.shipped for it)."""
        s.lines, s.confirmed = lines, True
        for sl in lines:
            ln = self.line(sl.line_id, sl.sku)
            ln.shipped += sl.qty
            if s.delivered_at is not None:
                ln.delivered += sl.qty

    def deliver(self, s: Shipment, at: datetime) -> None:
        if s.delivered_at is None:
            s.delivered_at = at
            for sl in s.lines:
                self.line(sl.line_id, sl.sku).delivered += sl.qty

    def covered(self, ln: Line) -> float:
        """Allocated, or further along: a pick or a shipment proves the allocation."""
        return max(ln.allocated, ln.picked, ln.shipped)

    def open_backorder(self, ln: Line) -> float:
        if not self.created:
            return ln.backordered
        return max(0.0, min(ln.backordered, ln.ordered - self.covered(ln)))

    def rollup(self) -> str | None:
        """The status the quantities alone say; None while nothing is known about any line."""
        lines = list(self.lines.values())
        if not lines:
            return None
        targets = [ln for ln in lines if ln.ordered > EPS] if self.created else []
        any_shipped = any(ln.shipped > EPS for ln in lines)
        any_covered = any(self.covered(ln) > EPS for ln in lines)
        any_backorder = any(self.open_backorder(ln) > EPS for ln in lines)
        if not targets:
            if any_shipped:
                return "partially_shipped"
            if any_backorder:
                return "backordered"
            return "partially_allocated" if any_covered else "received"
        if all(ln.shipped >= ln.ordered - EPS for ln in targets):
            return "shipped"
        if any_shipped:
            return "partially_shipped"
        if all(ln.picked >= ln.ordered - EPS for ln in targets):
            return "picked"
        if all(self.covered(ln) >= ln.ordered - EPS for ln in targets):
            return "allocated"
        if any_backorder:
            return "backordered"
        return "partially_allocated" if any_covered else "received"

    def line_claim(self) -> str | None:
        """What line-level reports say of the whole order: the least advanced line's claim."""
        targets = [ln for ln in self.lines.values() if ln.ordered > EPS]
        if not self.created or not targets or any(ln.claim is None for ln in targets):
            return None
        return min((ln.claim for ln in targets if ln.claim), key=lambda s: RANK[s])

    def delivered(self) -> bool:
        """Every ordered unit is on a delivered shipment: with split shipments, all of them."""
        targets = [ln for ln in self.lines.values() if ln.ordered > EPS]
        if not self.created or not targets:
            return False
        return all(ln.delivered >= ln.ordered - EPS for ln in targets)

    def line_views(self) -> tuple[LineView, ...]:
        return tuple(
            LineView(
                line_id=ln.line_id,
                sku=ln.sku,
                uom=ln.uom,
                ordered=ln.ordered,
                allocated=ln.allocated,
                backordered=self.open_backorder(ln),
                picked=ln.picked,
                shipped=ln.shipped,
                delivered=ln.delivered,
                native_status=ln.native_status,
            )
            for ln in self.lines.values()
        )
