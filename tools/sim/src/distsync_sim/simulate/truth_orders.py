"""Ground truth for order statuses (contract section 6, as the order-status README defines the
roll-up, ranks, exceptions and terminal statuses) and for shipment milestones.

The order's facts are folded in event-time order. Carrier scans reach an order as the
milestone changes the carrier's scans make (`carriers.replay`), and returns as the RMA status
changes `truth` derived; both carry the event times the services give them.

The rules are restated here; the vocabularies are order-status's own: the statuses and their
ranks (`order_status.domain.ranks`), the tables that map a source's native status, a carrier
milestone or an RMA status to an enterprise status (`order_status.domain.mappings`), and the
event types it applies (`order_status.domain.fold.APPLY`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from distsync_sim.simulate import carriers
from distsync_sim.simulate.events import SimEvent
from distsync_sim.simulate.truth import Truth, ms, q
from order_status.domain.fold import APPLY
from order_status.domain.mappings import DEFAULTS
from order_status.domain.ranks import ALLOCATION_TIER, RANK, EnterpriseStatus

# the event types order-status applies; the simulator publishes the source systems' ones
# (tracking updates and RMA statuses reach the fold as `tracking` and `return` facts)
ORDER_TYPES = frozenset(APPLY)


def mapped(source: str, code: str) -> str | None:
    """The enterprise status `code` maps to in order-status's table for `source` (None: no
    change, or a code the table does not know)."""
    return DEFAULTS.lookup(source, code).status


@dataclass(order=True)
class Fact:
    at: int
    id: str
    kind: str = field(compare=False)
    data: dict[str, Any] = field(compare=False)
    system: str = field(compare=False, default="")


@dataclass
class _Line:
    ordered: Any = 0
    allocated: Any = 0
    backordered: Any = 0
    picked: Any = 0
    shipped: Any = 0
    delivered: Any = 0


@dataclass
class _Shipment:
    lines: list[tuple[str, Any]] = field(default_factory=list)
    confirmed: bool = False
    delivered: bool = False


class OrderFold:
    def __init__(self) -> None:
        self.lines: dict[str, _Line] = {}
        self.shipments: dict[str, _Shipment] = {}
        self.by_tracking: dict[str, str] = {}
        self.claim: str | None = None
        self.exceptions: dict[str, str] = {}
        self.terminal: str | None = None
        self.progress: str | None = None

    def line(self, line_id: str) -> _Line:
        return self.lines.setdefault(line_id, _Line())

    def status(self) -> str:
        if self.terminal:
            return self.terminal
        if self.exceptions:
            return "exception"
        return self.progress or "received"

    def step(self, f: Fact) -> None:
        d = f.data
        milestone = False
        if f.kind == "order.created":
            for ln in self.lines.values():
                ln.ordered = 0
            for x in d["lines"]:
                self.line(x["line_id"]).ordered = q(x["qty"])
        elif f.kind == "order.allocated":
            for x in d["lines"]:
                ln = self.line(x["line_id"])
                ln.allocated += q(x["qty"])
                ln.backordered = max(0, ln.backordered - q(x["qty"]))
            milestone = True
        elif f.kind == "order.deallocated":
            for x in d["lines"]:
                ln = self.line(x["line_id"])
                ln.allocated = max(0, ln.allocated - q(x["qty"]))
        elif f.kind == "order.backordered":
            for x in d["lines"]:
                self.line(x["line_id"]).backordered += q(x["qty"])
            milestone = True
        elif f.kind == "order.cancelled":
            self._terminal("cancelled")
        elif f.kind == "order.status_reported":
            st = mapped(f.system, d["native_status"])
            if st == "exception":
                self.exceptions["order"] = d.get("reason") or d["native_status"]
            elif st is not None:
                milestone = True
                self._claim(st)
        elif f.kind == "pick.completed":
            for x in d["lines"]:
                self.line(x["line_id"]).picked += q(x["qty_picked"])
            milestone = True
        elif f.kind == "pack.completed":
            self.shipments.setdefault(d["shipment_id"], _Shipment())
            self._claim("packed")
            milestone = True
        elif f.kind == "shipment.shipped":
            s = self.shipments.setdefault(d["shipment_id"], _Shipment())
            self.by_tracking[d["tracking_number"]] = d["shipment_id"]
            if not s.confirmed:
                s.confirmed = True
                s.lines = [(x["line_id"], q(x["qty"])) for x in d["lines"]]
                for lid, n in s.lines:
                    self.line(lid).shipped += n
                    if s.delivered:
                        self.line(lid).delivered += n
                milestone = True
        elif f.kind == "tracking":
            sid = self.by_tracking.get(d["tracking_number"], "tracking:" + d["tracking_number"])
            s = self.shipments.setdefault(sid, _Shipment())
            st = mapped("carrier", d["milestone"])
            if st is not None and not (s.delivered and st not in ("exception", "delivered")):
                scope = "shipment:" + sid
                if st == "exception":
                    self.exceptions[scope] = d.get("reason") or d["milestone"]
                else:
                    self.exceptions.pop(scope, None)
                    milestone = True
                    if st == "delivered" and not s.delivered:
                        s.delivered = True
                        for lid, n in s.lines:
                            self.line(lid).delivered += n
        elif f.kind == "return":
            st = mapped("returns", d["status"])
            if st is not None:
                self._terminal(st)
        if milestone:
            self.exceptions.pop("order", None)
        self._advance()

    def _claim(self, st: str) -> None:
        if self.claim is None or RANK[st] > RANK[self.claim]:
            self.claim = st

    def _terminal(self, st: str) -> None:
        if self.terminal is not None:
            return
        if st == "cancelled" and RANK.get(self.progress or "", 0) >= RANK["partially_shipped"]:
            return
        self.terminal = st

    def _covered(self, ln: _Line) -> Any:
        return max(ln.allocated, ln.picked, ln.shipped)

    def rollup(self) -> EnterpriseStatus:
        targets = [ln for ln in self.lines.values() if ln.ordered > 0]
        if not targets:
            return "received"
        any_shipped = any(ln.shipped > 0 for ln in self.lines.values())
        if all(ln.shipped >= ln.ordered for ln in targets):
            return "shipped"
        if any_shipped:
            return "partially_shipped"
        if all(ln.picked >= ln.ordered for ln in targets):
            return "picked"
        if all(self._covered(ln) >= ln.ordered for ln in targets):
            return "allocated"
        if any(
            max(0, min(ln.backordered, ln.ordered - self._covered(ln))) > 0
            for ln in self.lines.values()
        ):
            return "backordered"
        if any(self._covered(ln) > 0 for ln in self.lines.values()):
            return "partially_allocated"
        return "received"

    def _advance(self) -> None:
        best: str = self.rollup()
        targets = [ln for ln in self.lines.values() if ln.ordered > 0]
        delivered = bool(targets) and all(ln.delivered >= ln.ordered for ln in targets)
        for c in (self.claim, "delivered" if delivered else None):
            if c is not None and RANK[c] > RANK[best]:
                best = c
        p = self.progress
        if p is None or RANK[best] > RANK[p] or RANK[best] == RANK[p] == ALLOCATION_TIER:
            self.progress = best


@dataclass
class OrderTruth:
    statuses: dict[str, str]
    reasons: dict[str, str | None]
    shipments: dict[str, str | None]  # tracking number -> final milestone


def orders(events: Iterable[SimEvent], truth: Truth) -> OrderTruth:
    facts: dict[str, list[Fact]] = {}
    scans: dict[str, list[tuple[int, str, str]]] = {}
    shipped: dict[str, str] = {}  # tracking -> order
    for ev in events:
        at = ms(ev.time) if ev.time else 0
        if ev.type in ORDER_TYPES:
            system = ev.source.split("/", 1)[0]
            f = Fact(at, ev.id, ev.type, ev.data, system)
            facts.setdefault(ev.data["order_id"], []).append(f)
            if ev.type == "shipment.shipped":
                shipped[ev.data["tracking_number"]] = ev.data["order_id"]
        elif ev.type == "tracking.reported":
            d = ev.data
            scans.setdefault(d["tracking_number"], []).append((at, d["carrier"], d["native_code"]))
    final: dict[str, str | None] = {}
    for tn, ss in scans.items():
        state, changes = carriers.replay(ss)
        final[tn] = state.milestone
        oid = shipped.get(tn)
        if oid is None:
            continue
        for i, c in enumerate(changes):
            data = {"tracking_number": tn, "milestone": c.milestone, "reason": c.reason}
            facts[oid].append(Fact(c.at_ms or 0, f"trk:{tn}:{i:04d}", "tracking", data))
    for rma_id, hist in truth.rma_statuses.items():
        rma = truth.rmas[rma_id]
        if rma.order_id is None or rma.order_id not in facts:
            continue
        for i, (at, st) in enumerate(hist):
            facts[rma.order_id].append(Fact(at, f"rma:{rma_id}:{i:04d}", "return", {"status": st}))
    statuses: dict[str, str] = {}
    reasons: dict[str, str | None] = {}
    for oid, fs in facts.items():
        fold = OrderFold()
        for f in sorted(fs):
            fold.step(f)
        statuses[oid] = fold.status()
        reasons[oid] = next(iter(fold.exceptions.values()), None)
    for tn in shipped:
        final.setdefault(tn, None)
    return OrderTruth(statuses, reasons, final)
