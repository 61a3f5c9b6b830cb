"""Folds an order's facts, in event-time order, into its status, lines, shipments and timeline.

The result depends only on the set of facts: they are sorted by (event time, id) first, so
arrival order and duplicates cannot change it, and a late event lands in its place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import cast

from order_status import messages as m
from order_status.mappings import Tables
from order_status.messages import EnterpriseStatus
from order_status.rollup import Line, Quantities
from order_status.views import (
    ALLOCATION_TIER,
    RANK,
    TERMINAL,
    Fact,
    Milestone,
    OrderView,
    ShipmentLine,
    TimelineEntry,
)

EVENT_TYPES = (
    "order.created order.allocated order.deallocated order.backordered order.cancelled "
    "order.status_reported pick.completed pack.completed shipment.shipped "
    "shipment.tracking_updated return.status_changed"
).split()


@dataclass
class _Effect:
    """What one fact did, for its timeline entry."""

    native_status: str | None = None
    mapped_status: str | None = None
    unmapped: bool = False
    mapping: str | None = None
    note: str | None = None
    reason: str | None = None
    milestone: bool = False  # the fact reached a milestone: open order-level exceptions clear
    line_id: str | None = None
    shipment_id: str | None = None


@dataclass
class _Mark:
    """An open exception, or the terminal status (cancelled, returned)."""

    status: str
    at: datetime
    event_id: str
    reason: str | None


class _Fold:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.q = Quantities()
        self.header: dict[str, str | None] = {}
        self.claim: str | None = None  # highest milestone an order-level report claimed
        self.exceptions: dict[str, _Mark] = {}  # scope ("order", "shipment:<n>") -> exception
        self.terminal: _Mark | None = None
        self.progress: str | None = None
        self.status: str | None = None
        self.milestones: list[Milestone] = []
        self.timeline: list[TimelineEntry] = []
        self.on: dict[str, Callable[[Fact, _Effect], None]] = {
            t: getattr(self, "_" + t.replace(".", "_")) for t in EVENT_TYPES
        }

    def step(self, f: Fact) -> None:
        eff = _Effect()
        handler = self.on.get(f.type)
        if handler is None:
            eff.note = "not an order event"
        else:
            handler(f, eff)
        if eff.milestone:
            self.exceptions.pop("order", None)
        self._advance()
        status, reason = self._status()
        if status != self.status:
            self.milestones.append(
                Milestone(
                    status=cast("EnterpriseStatus", status),
                    at=f.time,
                    source=f.source,
                    event_id=f.id,
                    native_status=eff.native_status,
                    reason=reason,
                )
            )
            self.status = status
        entry = {k: v for k, v in asdict(eff).items() if k != "milestone"}
        self.timeline.append(
            TimelineEntry.model_validate(
                {"event_id": f.id, "type": f.type, "at": f.time, "received_at": f.received_at}
                | {"source": f.source, "status": status, **entry}
            )
        )

    def _advance(self) -> None:
        """Progress never drops a rank; inside the allocation tier the quantities decide."""
        best = self.q.rollup() or "received"
        for c in (self.claim, self.q.line_claim(), "delivered" if self.q.delivered() else None):
            if c is not None and RANK[c] > RANK[best]:
                best = c
        p = self.progress
        if p is None or RANK[best] > RANK[p] or RANK[best] == RANK[p] == ALLOCATION_TIER:
            self.progress = best

    def _status(self) -> tuple[str, str | None]:
        if self.terminal is not None:
            return self.terminal.status, self.terminal.reason
        if self.exceptions:
            latest = max(self.exceptions.values(), key=lambda x: (x.at, x.event_id))
            return "exception", latest.reason
        return self.progress or "received", None

    def _mapped(self, f: Fact, eff: _Effect, status: str, line: Line | None) -> None:
        """Apply an enterprise status a native status was mapped to."""
        if status == "exception":
            reason = eff.reason or eff.native_status or "exception"
            self.exceptions["order"] = _Mark("exception", f.time, f.id, reason)
        elif status in TERMINAL:
            self._terminal(f, eff, status)
        else:
            eff.milestone = True
            if line is not None:
                if line.claim is None or RANK[status] > RANK[line.claim]:
                    line.claim = status
            elif self.claim is None or RANK[status] > RANK[self.claim]:
                self.claim = status

    def _terminal(self, f: Fact, eff: _Effect, status: str) -> None:
        if self.terminal is not None:
            eff.note = f"order already {self.terminal.status}; status kept"
        elif (
            status == "cancelled" and RANK.get(self.progress or "", 0) >= RANK["partially_shipped"]
        ):
            eff.note = "cancellation after goods were shipped; status kept"
        else:
            self.terminal = _Mark(status, f.time, f.id, eff.reason)

    def _lookup(self, f: Fact, eff: _Effect, mapping: str, native: str) -> str | None:
        eff.mapping = mapping
        found = self.tables.lookup(mapping, native)
        if not found.known:
            eff.unmapped = True
            eff.note = f"unmapped native status {native!r} from {mapping}; status kept"
        elif found.status is None:
            eff.note = "known native status; no status change"
        eff.mapped_status = found.status
        return found.status

    def _order_created(self, f: Fact, eff: _Effect) -> None:
        d = m.OrderCreated.model_validate(f.data)
        if self.q.created:
            eff.note = "order amended: lines replaced"
            for ln in self.q.lines.values():
                ln.ordered = 0.0
        self.q.created = True
        self.header = {
            "channel": d.channel,
            "customer_id": d.customer_id,
            "promised_date": d.promised_date,
        }
        for line in d.lines:
            ln = self.q.line(line.line_id, line.sku)
            ln.sku, ln.ordered, ln.uom = line.sku, line.qty, line.uom

    def _order_allocated(self, f: Fact, eff: _Effect) -> None:
        for line in m.OrderAllocated.model_validate(f.data).lines:
            ln = self.q.line(line.line_id, line.sku)
            ln.allocated += line.qty
            ln.backordered = max(0.0, ln.backordered - line.qty)
        eff.milestone = True

    def _order_deallocated(self, f: Fact, eff: _Effect) -> None:
        d = m.OrderDeallocated.model_validate(f.data)
        for line in d.lines:
            ln = self.q.line(line.line_id, line.sku)
            ln.allocated = max(0.0, ln.allocated - line.qty)
        eff.reason = d.reason

    def _order_backordered(self, f: Fact, eff: _Effect) -> None:
        d = m.OrderBackordered.model_validate(f.data)
        for line in d.lines:
            self.q.line(line.line_id, line.sku).backordered += line.qty
        if d.expected_date:
            eff.note = f"expected {d.expected_date}"
        eff.milestone = True

    def _order_cancelled(self, f: Fact, eff: _Effect) -> None:
        eff.reason = m.OrderCancelled.model_validate(f.data).reason
        self._terminal(f, eff, "cancelled")

    def _order_status_reported(self, f: Fact, eff: _Effect) -> None:
        d = m.OrderStatusReported.model_validate(f.data)
        eff.native_status, eff.reason, eff.line_id = d.native_status, d.reason, d.line_id
        line = self.q.line(d.line_id, "") if d.line_id else None
        if line is not None:
            line.native_status = d.native_status
        status = self._lookup(f, eff, f.system, d.native_status)
        if status is not None:
            self._mapped(f, eff, status, line)

    def _pick_completed(self, f: Fact, eff: _Effect) -> None:
        for line in m.PickCompleted.model_validate(f.data).lines:
            self.q.line(line.line_id, line.sku).picked += line.qty_picked
        eff.milestone = True

    def _pack_completed(self, f: Fact, eff: _Effect) -> None:
        d = m.PackCompleted.model_validate(f.data)
        s = self.q.shipment(d.shipment_id, None)
        s.packed_at = s.packed_at or f.time
        s.location = s.location or d.location
        eff.shipment_id = d.shipment_id
        self._mapped(f, eff, "packed", None)

    def _shipment_shipped(self, f: Fact, eff: _Effect) -> None:
        d = m.ShipmentShipped.model_validate(f.data)
        s = self.q.shipment(d.shipment_id, d.tracking_number)
        eff.shipment_id = d.shipment_id
        s.carrier = s.carrier or d.carrier
        if s.confirmed:
            eff.note = "shipment already reported; its first report's lines are kept"
            return
        s.location, s.shipped_at = d.location, f.time
        self.q.confirm(s, [ShipmentLine(line_id=x.line_id, sku=x.sku, qty=x.qty) for x in d.lines])
        eff.milestone = True

    def _shipment_tracking_updated(self, f: Fact, eff: _Effect) -> None:
        d = m.ShipmentTrackingUpdated.model_validate(f.data)
        s = self.q.shipment(d.shipment_id, d.tracking_number)
        scope = f"shipment:{self.q.shipments.index(s)}"
        s.carrier = s.carrier or d.carrier
        eff.native_status, eff.shipment_id = d.native_code, s.shipment_id
        eff.reason = d.exception_reason
        status = self._lookup(f, eff, "carrier", d.milestone)
        if not eff.unmapped:
            eff.note = f"carrier milestone {d.milestone}"
        if status is None:
            return
        if status == "exception":
            s.milestone, s.milestone_at, s.native_code = d.milestone, f.time, d.native_code
            s.description = d.description
            s.exception_reason = d.exception_reason or d.description or d.milestone
            self.exceptions[scope] = _Mark("exception", f.time, f.id, s.exception_reason)
            return
        self.exceptions.pop(scope, None)
        s.exception_reason = None
        eff.milestone = True
        if s.delivered_at is not None and status != "delivered":
            eff.note = f"carrier milestone {d.milestone} after delivery; shipment kept delivered"
            s.milestone, s.milestone_at = "delivered", s.delivered_at
            return
        s.milestone, s.milestone_at, s.native_code = d.milestone, f.time, d.native_code
        s.description = d.description
        if status == "delivered":
            self.q.deliver(s, f.time)

    def _return_status_changed(self, f: Fact, eff: _Effect) -> None:
        d = m.ReturnStatusChanged.model_validate(f.data)
        eff.native_status, eff.note = d.status, f"rma {d.rma_id}"
        status = self._lookup(f, eff, "returns", d.status)
        if status is not None:
            self._mapped(f, eff, status, None)

    def view(self) -> OrderView:
        status, reason = self._status()
        return OrderView(
            status=cast("EnterpriseStatus", status),
            reason=reason if status in ("exception", *TERMINAL) else None,
            channel=self.header.get("channel"),
            customer_id=self.header.get("customer_id"),
            promised_date=self.header.get("promised_date"),
            lines=self.q.line_views(),
            shipments=tuple(s.view() for s in self.q.shipments),
            milestones=tuple(self.milestones),
            timeline=tuple(self.timeline),
        )


def fold(facts: Sequence[Fact], tables: Tables) -> OrderView:
    """The order's view from its facts; `facts` must be non-empty."""
    if not facts:
        raise ValueError("an order is folded from at least one fact")
    state = _Fold(tables)
    seen: set[str] = set()
    for f in sorted(facts, key=lambda x: x.sort_key):
        if f.id not in seen:
            seen.add(f.id)
            state.step(f)
    return state.view()
