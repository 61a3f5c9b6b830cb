"""Ground truth: what every position, purchase order and RMA must be, replayed from the events
the simulator published (duplicates and bad messages excluded) through the contract's formulas
(section 5) and the receipt and returns rules (`policy`), restated without the services' code.
The vocabularies are the services' own: the position's numbers (`AvailabilityNumbers`) and what
each disposition does to on_hand and quarantined (`availability.domain.rules.DISPOSITIONS`).

Events are replayed in event-time order, never arrival order: a count sets on_hand as of its
time (a purchase receipt's goods enter at the receipt's own time, which `receipt.confirmed`
carries as `received_at`), a receipt received after its PO's cancellation is unexpected, and
absolute values (safety stock, authorizations) keep the newest by event time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from availability.domain.rules import DISPOSITIONS
from availability.messages import AvailabilityNumbers
from distsync_sim.simulate import policy
from distsync_sim.simulate.events import SimEvent

Q = Fraction
# every number of a position, as availability reports it
BUCKETS: tuple[str, ...] = tuple(AvailabilityNumbers.model_fields)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(milliseconds=1)


def q(x: Any) -> Q:
    return Q(str(x)) if isinstance(x, float) else Q(x)


@dataclass
class Position:
    movements: list[tuple[int, Q]] = field(default_factory=list)  # (event time ms, on_hand)
    count: tuple[int, str, Q] | None = None  # newest count: (time ms, event id, qty)
    allocated: Q = field(default_factory=Q)
    quarantined: Q = field(default_factory=Q)
    in_transit: Q = field(default_factory=Q)
    inbound: Q = field(default_factory=Q)
    returns_pending: Q = field(default_factory=Q)
    safety_stock: Q = field(default_factory=Q)

    @property
    def on_hand(self) -> Q:
        if self.count is None:
            return sum((d for _, d in self.movements), Q(0))
        at = self.count[0]
        return self.count[2] + sum((d for t, d in self.movements if t > at), Q(0))

    def numbers(self) -> dict[str, Q]:
        n = {
            "on_hand": self.on_hand,
            "allocated": self.allocated,
            "quarantined": self.quarantined,
            "in_transit": self.in_transit,
            "inbound": self.inbound,
            "returns_pending": self.returns_pending,
            "safety_stock": self.safety_stock,
        }
        ats = max(Q(0), n["on_hand"] - n["allocated"] - n["quarantined"] - n["safety_stock"])
        n["available_to_sell"] = ats
        n["available_to_promise"] = ats + n["in_transit"] + n["inbound"] + n["returns_pending"]
        return n


@dataclass
class Truth:
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    pos: dict[str, policy.Po] = field(default_factory=dict)
    rmas: dict[str, policy.Rma] = field(default_factory=dict)
    # per RMA, each status change (event time ms, status), as the returns service announces it
    rma_statuses: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def position(self, sku: str, location: str) -> Position:
        return self.positions.setdefault((sku, location), Position())


class Replay:
    """Feed events in any order with `add`, then `run()` sorts them by event time."""

    def __init__(self) -> None:
        self.events: dict[str, SimEvent] = {}

    def add(self, ev: SimEvent) -> None:
        if ev.time is None:
            raise ValueError(f"event {ev.id} was never stamped with its time")
        self.events.setdefault(ev.id, ev)

    def sorted(self) -> list[SimEvent]:
        return sorted(self.events.values(), key=lambda e: (ms(e.time or _EPOCH), e.id))

    def run(self) -> Truth:
        return replay(self.sorted())


def replay(events: Iterable[SimEvent]) -> Truth:
    t = Truth()
    conv: dict[str, tuple[str, dict[str, Q]]] = {}  # sku -> (base uom, conversions)
    safety: dict[str, tuple[int, str, dict[str, Q]]] = {}
    auth_at: dict[str, tuple[int, str]] = {}
    receipt_ids: set[str] = set()

    def base(sku: str, qty: Any, uom: str | None) -> Q:
        if uom is None:
            return q(qty)
        b, c = conv[sku]
        return q(qty) if uom == b else q(qty) * c[uom]

    for ev in events:
        d = ev.data
        at = ms(ev.time or _EPOCH)
        match ev.type:
            case "item.updated":
                conv[d["sku"]] = (
                    d["base_uom"],
                    {u: q(f) for u, f in d.get("uom_conversions", {}).items()},
                )
                if d.get("safety_stock") is not None:
                    cur = safety.get(d["sku"])
                    if cur is None or (at, ev.id) > cur[:2]:
                        m = {k: q(v) for k, v in d["safety_stock"].items()}
                        safety[d["sku"]] = (at, ev.id, m)
            case "inventory.adjusted":
                p = t.position(d["sku"], d["location"])
                p.movements.append((at, base(d["sku"], d["qty_delta"], d.get("uom"))))
            case "inventory.counted":
                p = t.position(d["sku"], d["location"])
                qty = base(d["sku"], d["counted_qty"], d.get("uom"))
                if p.count is None or (at, ev.id) > p.count[:2]:
                    p.count = (at, ev.id, qty)
            case "inventory.quarantined" | "inventory.released":
                sign = 1 if ev.type == "inventory.quarantined" else -1
                p = t.position(d["sku"], d["location"])
                p.quarantined += sign * base(d["sku"], d["qty"], d.get("uom"))
            case "order.allocated" | "order.deallocated":
                sign = 1 if ev.type == "order.allocated" else -1
                for ln in d["lines"]:
                    p = t.position(ln["sku"], ln["location"])
                    p.allocated += sign * base(ln["sku"], ln["qty"], ln.get("uom"))
            case "shipment.shipped":
                for ln in d["lines"]:
                    p = t.position(ln["sku"], d["location"])
                    n = base(ln["sku"], ln["qty"], ln.get("uom"))
                    p.movements.append((at, -n))
                    p.allocated -= n
            case "transfer.shipped":
                for ln in d["lines"]:
                    n = base(ln["sku"], ln["qty"], ln.get("uom"))
                    t.position(ln["sku"], d["from_location"]).movements.append((at, -n))
                    t.position(ln["sku"], d["to_location"]).in_transit += n
            case "transfer.received":
                for ln in d["lines"]:
                    n = base(ln["sku"], ln["qty"], ln.get("uom"))
                    p = t.position(ln["sku"], d["to_location"])
                    p.movements.append((at, n))
                    p.in_transit -= n
            case "purchase_order.released":
                po = t.pos.setdefault(d["po_id"], policy.Po(d["po_id"], d["location"]))
                po.location = d["location"]
                for ln in d["lines"]:
                    po.lines[ln["line_id"]] = policy.PoLine(
                        ln["line_id"],
                        ln["sku"],
                        base(ln["sku"], ln["qty"], ln.get("uom")),
                        q(ln.get("over_receipt_tolerance_pct") or 0),
                        bool(ln.get("lot_tracked")),
                    )
            case "purchase_order.cancelled":
                po = t.pos[d["po_id"]]
                if po.cancelled_at is None:
                    po.cancelled_at = at
            case "receipt.recorded":
                if d["receipt_id"] in receipt_ids:
                    continue  # the same receipt sent again: counted once
                receipt_ids.add(d["receipt_id"])
                lines = [
                    policy.ReceivedLine(
                        ln["sku"],
                        base(ln["sku"], ln["qty_received"], ln.get("uom")),
                        base(ln["sku"], ln.get("qty_damaged") or 0, ln.get("uom")),
                        ln.get("po_line_id"),
                        ln.get("lot"),
                        ln.get("substitute_for_sku"),
                    )
                    for ln in d["lines"]
                ]
                against = t.pos.get(d["po_id"]) if d.get("po_id") else None
                if against is not None:
                    against.receipt_ids.add(d["receipt_id"])
                for a in policy.receive(against, lines, at):
                    p = t.position(a.sku, d["location"])
                    p.movements.append((at, a.on_hand))
                    p.quarantined += a.quarantined
            case "return.authorized":
                rma = t.rmas.setdefault(d["rma_id"], policy.Rma(d["rma_id"]))
                if d["rma_id"] in auth_at and (at, ev.id) < auth_at[d["rma_id"]]:
                    continue
                auth_at[d["rma_id"]] = (at, ev.id)
                rma.order_id, rma.location, rma.authorized_at = d["order_id"], d["location"], at
                rma.authorized = {}
                for ln in d["lines"]:
                    rma.authorized[ln["sku"]] = rma.authorized.get(ln["sku"], Q(0)) + q(ln["qty"])
                _rma_status(t, rma, at)
            case "return.received":
                rma = t.rmas.setdefault(d["rma_id"], policy.Rma(d["rma_id"]))
                for ln in d["lines"]:
                    n = q(ln["qty"])
                    key = (ln["sku"], d["location"])
                    rma.received[key] = rma.received.get(key, Q(0)) + n
                    p = t.position(*key)
                    p.movements.append((at, n))
                    p.quarantined += n
                _rma_status(t, rma, at)
            case "return.inspected":
                rma = t.rmas[d["rma_id"]]
                for ln in d["lines"]:
                    n = q(ln["qty"])
                    key = (ln["sku"], d["location"])
                    rma.inspected[key] = rma.inspected.get(key, Q(0)) + n
                    oh, qu = DISPOSITIONS[ln["disposition"]]
                    p = t.position(*key)
                    if oh:
                        p.movements.append((at, oh * n))
                    p.quarantined += qu * n
                _rma_status(t, rma, at)
            case _:
                pass
    for sku, (_, _, m) in safety.items():
        for loc, v in m.items():
            t.position(sku, loc).safety_stock = v
    for (sku, loc), p in t.positions.items():
        got = safety.get(sku)
        p.safety_stock = got[2].get(loc, Q(0)) if got else Q(0)
    for po in t.pos.values():
        for sku, n in po.inbound().items():
            t.position(sku, po.location).inbound += n
    for rma in t.rmas.values():
        for key, n in rma.pending().items():
            t.position(*key).returns_pending += n
    return t


def _rma_status(t: Truth, rma: policy.Rma, at: int) -> None:
    hist = t.rma_statuses.setdefault(rma.rma_id, [])
    status = rma.status()
    if status is None or (hist and hist[-1][1] == status):
        return
    when = max(at, hist[-1][0]) if hist else at
    hist.append((when, status))
