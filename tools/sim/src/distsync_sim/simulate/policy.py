"""Business rules the simulator's world follows, written from the contract and the services'
documented rules (receipt: README "Receipt rules"; returns: README "Workflow"), not from their
code. Used by the generator to know its own stock and by `truth` to replay what was published.
The statuses they give are the services' vocabularies (`receipt.messages.PoStatus`,
`returns.messages.Status`).

Quantities are exact: Fractions of the base unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from receipt.messages import PoStatus
from returns.messages import Status

Q = Fraction


@dataclass
class PoLine:
    line_id: str
    sku: str
    ordered: Q
    tolerance_pct: Q = field(default_factory=Q)
    lot_tracked: bool = False
    received: Q = field(
        default_factory=Q
    )  # every unit counted on the line, damaged and over-tolerance included
    accepted: Q = field(default_factory=Q)
    quarantined: Q = field(default_factory=Q)
    substituted: Q = field(default_factory=Q)

    @property
    def limit(self) -> Q:
        return self.ordered * (1 + self.tolerance_pct / 100)

    @property
    def remaining(self) -> Q:
        return max(Q(0), self.ordered - self.received)


@dataclass
class Po:
    po_id: str
    location: str
    lines: dict[str, PoLine] = field(default_factory=dict)
    cancelled_at: int | None = None  # event time, ms
    receipt_ids: set[str] = field(default_factory=set)

    @property
    def status(self) -> PoStatus:
        if self.cancelled_at is not None:
            return "cancelled"
        if all(ln.received >= ln.ordered for ln in self.lines.values()):
            return "received"
        if any(ln.received > 0 for ln in self.lines.values()):
            return "partially_received"
        return "open"

    def inbound(self) -> dict[str, Q]:
        """Per SKU, what this PO still expects (nothing once cancelled)."""
        out: dict[str, Q] = {}
        if self.cancelled_at is not None:
            return out
        for ln in self.lines.values():
            out[ln.sku] = out.get(ln.sku, Q(0)) + ln.remaining
        return out


@dataclass(frozen=True)
class ReceivedLine:
    sku: str
    qty: Q  # base units, damaged included
    damaged: Q = field(default_factory=Q)
    po_line_id: str | None = None
    lot: str | None = None
    substitute_for: str | None = None


@dataclass(frozen=True)
class Arrival:
    """What one receipt line puts in a position: all of it on hand, part of it quarantined."""

    sku: str
    on_hand: Q
    quarantined: Q


def receive(po: Po | None, lines: list[ReceivedLine], at: int) -> list[Arrival]:
    """Check a receipt against its PO (None: blind receipt); updates `po`."""
    out: list[Arrival] = []
    for rl in lines:
        if rl.qty <= 0:
            continue
        if po is None or (po.cancelled_at is not None and at > po.cancelled_at):
            out.append(Arrival(rl.sku, rl.qty, rl.qty))
            continue
        if rl.substitute_for is not None:
            target = _line_for(po, rl.po_line_id, rl.substitute_for)
            if target is not None:
                target.substituted += rl.qty
            out.append(Arrival(rl.sku, rl.qty, rl.qty))
            continue
        ln = _line_for(po, rl.po_line_id, rl.sku)
        if ln is None:
            out.append(Arrival(rl.sku, rl.qty, rl.qty))
            continue
        damaged = min(rl.damaged, rl.qty)
        good = rl.qty - damaged
        if ln.lot_tracked and rl.lot is None:
            accepted = Q(0)
        else:
            accepted = min(good, max(Q(0), ln.limit - ln.accepted))
        held = rl.qty - accepted
        ln.received += rl.qty
        ln.accepted += accepted
        ln.quarantined += held
        out.append(Arrival(rl.sku, rl.qty, held))
    return out


def _line_for(po: Po, line_id: str | None, sku: str) -> PoLine | None:
    named = po.lines.get(line_id) if line_id else None
    if named is not None and named.sku == sku:
        return named
    return next((ln for ln in po.lines.values() if ln.sku == sku), None)


@dataclass
class Rma:
    """An RMA's quantities: authorized per SKU (at `location`), received and inspected per
    (sku, location)."""

    rma_id: str
    order_id: str | None = None
    location: str | None = None
    authorized_at: int | None = None
    authorized: dict[str, Q] = field(default_factory=dict)
    received: dict[tuple[str, str], Q] = field(default_factory=dict)
    inspected: dict[tuple[str, str], Q] = field(default_factory=dict)

    def sku_totals(self) -> dict[str, tuple[Q, Q]]:
        out = {sku: (qty, Q(0)) for sku, qty in self.authorized.items()}
        for (sku, _), r in self.received.items():
            a, got = out.get(sku, (Q(0), Q(0)))
            out[sku] = (a, got + r)
        return out

    def expecting(self) -> bool:
        return self.authorized_at is not None and any(a > r for a, r in self.sku_totals().values())

    def pending(self) -> dict[tuple[str, str], Q]:
        """(sku, RMA location) -> authorized, not yet received."""
        if not self.expecting() or self.location is None:
            return {}
        return {(s, self.location): a - r for s, (a, r) in self.sku_totals().items() if a > r}

    def status(self) -> Status | None:
        if self.authorized_at is None:
            return None
        if sum(self.received.values(), Q(0)) == 0:
            return "authorized" if sum(self.authorized.values(), Q(0)) > 0 else "rejected"
        keys = set(self.received) | {(s, self.location or "") for s in self.authorized}
        all_inspected = all(self.inspected.get(k, Q(0)) >= self.received.get(k, Q(0)) for k in keys)
        if all_inspected:
            return "inspected" if self.expecting() else "completed"
        short = any(a > r for a, r in self.sku_totals().values())
        return "partially_received" if short else "received"
