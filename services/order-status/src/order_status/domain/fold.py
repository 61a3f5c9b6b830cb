"""Folds an order's facts, in event-time order, into its status, lines, shipments and timeline.

The result depends only on the set of facts: they are sorted by (event time, id) first, so
arrival order and duplicates cannot change it, and a late event lands in its place. `APPLY`, at
the bottom, is the whole dispatch: for each event type, the function that applies it. The
quantities roll up in `rollup.py`; which status follows is decided in `transitions.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import cast

from order_status import messages as m
from order_status.domain import transitions
from order_status.domain.mappings import Tables
from order_status.domain.ranks import TERMINAL, EnterpriseStatus
from order_status.domain.rollup import Line, Quantities
from order_status.domain.transitions import Mark
from order_status.domain.views import Fact, Milestone, OrderView, ShipmentLine, TimelineEntry


@dataclass
class Effect:
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


class Fold:
    """An order's state while its facts are applied one by one."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.q = Quantities()
        self.header: dict[str, str | None] = {}
        self.claim: str | None = None  # highest milestone an order-level report claimed
        self.exceptions: dict[str, Mark] = {}  # scope ("order", "shipment:<n>") -> exception
        self.terminal: Mark | None = None
        self.progress: str | None = None
        self.status: str | None = None
        self.milestones: list[Milestone] = []
        self.timeline: list[TimelineEntry] = []

    def step(self, f: Fact) -> None:
        eff = Effect()
        apply = APPLY.get(f.type)
        if apply is None:
            eff.note = "not an order event"
        else:
            apply(self, f, eff)
        if eff.milestone:
            self.exceptions.pop("order", None)
        delivered = "delivered" if self.q.delivered() else None
        claims = (self.q.rollup(), self.claim, self.q.line_claim(), delivered)
        self.progress = transitions.advance(self.progress, claims)
        status, reason = transitions.current(self.terminal, self.exceptions, self.progress)
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

    def mapped(self, f: Fact, eff: Effect, status: str, line: Line | None) -> None:
        """Apply an enterprise status a native status was mapped to."""
        if status == "exception":
            reason = eff.reason or eff.native_status or "exception"
            self.exceptions["order"] = Mark("exception", f.time, f.id, reason)
        elif status in TERMINAL:
            self.end(f, eff, status)
        else:
            eff.milestone = True
            if line is not None:
                line.claim = transitions.raise_claim(line.claim, status)
            else:
                self.claim = transitions.raise_claim(self.claim, status)

    def end(self, f: Fact, eff: Effect, status: str) -> None:
        """Take a terminal status, unless a transition rule refuses it."""
        refused = transitions.terminal_refused(self.terminal, status, self.progress)
        if refused is not None:
            eff.note = refused
        else:
            self.terminal = Mark(status, f.time, f.id, eff.reason)

    def lookup(self, eff: Effect, mapping: str, native: str) -> str | None:
        """The enterprise status `native` maps to in the `mapping` source's table."""
        eff.mapping = mapping
        found = self.tables.lookup(mapping, native)
        if not found.known:
            eff.unmapped = True
            eff.note = f"unmapped native status {native!r} from {mapping}; status kept"
        elif found.status is None:
            eff.note = "known native status; no status change"
        eff.mapped_status = found.status
        return found.status

    def view(self) -> OrderView:
        status, reason = transitions.current(self.terminal, self.exceptions, self.progress)
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


# -- one function per event type -----------------------------------------------------------------


def order_created(s: Fold, f: Fact, eff: Effect) -> None:
    d = m.OrderCreated.model_validate(f.data)
    if s.q.created:
        eff.note = "order amended: lines replaced"
        for ln in s.q.lines.values():
            ln.ordered = 0.0
    s.q.created = True
    s.header = {
        "channel": d.channel,
        "customer_id": d.customer_id,
        "promised_date": d.promised_date,
    }
    for line in d.lines:
        ln = s.q.line(line.line_id, line.sku)
        ln.sku, ln.ordered, ln.uom = line.sku, line.qty, line.uom


def order_allocated(s: Fold, f: Fact, eff: Effect) -> None:
    for line in m.OrderAllocated.model_validate(f.data).lines:
        ln = s.q.line(line.line_id, line.sku)
        ln.allocated += line.qty
        ln.backordered = max(0.0, ln.backordered - line.qty)
    eff.milestone = True


def order_deallocated(s: Fold, f: Fact, eff: Effect) -> None:
    d = m.OrderDeallocated.model_validate(f.data)
    for line in d.lines:
        ln = s.q.line(line.line_id, line.sku)
        ln.allocated = max(0.0, ln.allocated - line.qty)
    eff.reason = d.reason


def order_backordered(s: Fold, f: Fact, eff: Effect) -> None:
    d = m.OrderBackordered.model_validate(f.data)
    for line in d.lines:
        s.q.line(line.line_id, line.sku).backordered += line.qty
    if d.expected_date:
        eff.note = f"expected {d.expected_date}"
    eff.milestone = True


def order_cancelled(s: Fold, f: Fact, eff: Effect) -> None:
    eff.reason = m.OrderCancelled.model_validate(f.data).reason
    s.end(f, eff, "cancelled")


def order_status_reported(s: Fold, f: Fact, eff: Effect) -> None:
    """A native status, mapped through the table of the reporting system."""
    d = m.OrderStatusReported.model_validate(f.data)
    eff.native_status, eff.reason, eff.line_id = d.native_status, d.reason, d.line_id
    line = s.q.line(d.line_id, "") if d.line_id else None
    if line is not None:
        line.native_status = d.native_status
    status = s.lookup(eff, f.system, d.native_status)
    if status is not None:
        s.mapped(f, eff, status, line)


def pick_completed(s: Fold, f: Fact, eff: Effect) -> None:
    for line in m.PickCompleted.model_validate(f.data).lines:
        s.q.line(line.line_id, line.sku).picked += line.qty_picked
    eff.milestone = True


def pack_completed(s: Fold, f: Fact, eff: Effect) -> None:
    d = m.PackCompleted.model_validate(f.data)
    sh = s.q.shipment(d.shipment_id, None)
    sh.packed_at = sh.packed_at or f.time
    sh.location = sh.location or d.location
    eff.shipment_id = d.shipment_id
    s.mapped(f, eff, "packed", None)


def shipment_shipped(s: Fold, f: Fact, eff: Effect) -> None:
    """A shipment's first report gives its lines; a later report of it changes no quantity."""
    d = m.ShipmentShipped.model_validate(f.data)
    sh = s.q.shipment(d.shipment_id, d.tracking_number)
    eff.shipment_id = d.shipment_id
    sh.carrier = sh.carrier or d.carrier
    if sh.confirmed:
        eff.note = "shipment already reported; its first report's lines are kept"
        return
    sh.location, sh.shipped_at = d.location, f.time
    s.q.confirm(sh, [ShipmentLine(line_id=x.line_id, sku=x.sku, qty=x.qty) for x in d.lines])
    eff.milestone = True


def shipment_tracking_updated(s: Fold, f: Fact, eff: Effect) -> None:
    """A carrier milestone of one shipment: its exception holds until a later scan clears it,
    and a delivered shipment stays delivered."""
    d = m.ShipmentTrackingUpdated.model_validate(f.data)
    sh = s.q.shipment(d.shipment_id, d.tracking_number)
    scope = f"shipment:{s.q.shipments.index(sh)}"
    sh.carrier = sh.carrier or d.carrier
    eff.native_status, eff.shipment_id = d.native_code, sh.shipment_id
    eff.reason = d.exception_reason
    status = s.lookup(eff, "carrier", d.milestone)
    if not eff.unmapped:
        eff.note = f"carrier milestone {d.milestone}"
    if status is None:
        return
    if status == "exception":
        sh.milestone, sh.milestone_at, sh.native_code = d.milestone, f.time, d.native_code
        sh.description = d.description
        sh.exception_reason = d.exception_reason or d.description or d.milestone
        s.exceptions[scope] = Mark("exception", f.time, f.id, sh.exception_reason)
        return
    s.exceptions.pop(scope, None)
    sh.exception_reason = None
    eff.milestone = True
    if sh.delivered_at is not None and status != "delivered":
        eff.note = f"carrier milestone {d.milestone} after delivery; shipment kept delivered"
        sh.milestone, sh.milestone_at = "delivered", sh.delivered_at
        return
    sh.milestone, sh.milestone_at, sh.native_code = d.milestone, f.time, d.native_code
    sh.description = d.description
    if status == "delivered":
        s.q.deliver(sh, f.time)


def return_status_changed(s: Fold, f: Fact, eff: Effect) -> None:
    d = m.ReturnStatusChanged.model_validate(f.data)
    eff.native_status, eff.note = d.status, f"rma {d.rma_id}"
    status = s.lookup(eff, "returns", d.status)
    if status is not None:
        s.mapped(f, eff, status, None)


Apply = Callable[[Fold, Fact, Effect], None]

APPLY: Mapping[str, Apply] = MappingProxyType(
    {
        "order.created": order_created,
        "order.allocated": order_allocated,
        "order.deallocated": order_deallocated,
        "order.backordered": order_backordered,
        "order.cancelled": order_cancelled,
        "order.status_reported": order_status_reported,
        "pick.completed": pick_completed,
        "pack.completed": pack_completed,
        "shipment.shipped": shipment_shipped,
        "shipment.tracking_updated": shipment_tracking_updated,
        "return.status_changed": return_status_changed,
    }
)


def fold(facts: Sequence[Fact], tables: Tables) -> OrderView:
    """The order's view from its facts; `facts` must be non-empty."""
    if not facts:
        raise ValueError("an order is folded from at least one fact")
    state = Fold(tables)
    seen: set[str] = set()
    for f in sorted(facts, key=lambda x: x.sort_key):
        if f.id not in seen:
            seen.add(f.id)
            state.step(f)
    return state.view()
