"""Purchasing: the buyer's replenishment, purchase orders, ASNs, and what the dock receives
(partial, over tolerance, damaged, missing lots, substitutes, items not ordered, late trucks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from distsync_sim.simulate import policy, supply
from distsync_sim.simulate.events import COMMERCE, ERP, WMS
from distsync_sim.simulate.model import BRANCHES, DCS, ERP_SOURCE, Item, World, wms_source


@dataclass
class PoPlan:
    po: policy.Po
    items: dict[str, Item]
    asn_id: str | None = None
    receipts: int = 0
    cancelled: bool = False
    ids: list[str] = field(default_factory=list)


def _date(w: World, days: int) -> str:
    d = 1 + (w.tick // 400 + days) % 27
    return f"2026-12-{d:02d}"


def _inbound_sync(w: World, plan: PoPlan, before: dict[str, Fraction]) -> None:
    after = plan.po.inbound()
    for sku in set(before) | set(after):
        delta = after.get(sku, Fraction(0)) - before.get(sku, Fraction(0))
        w.st(sku, plan.po.location).inbound += int(delta)


def replenish(w: World) -> None:
    """The buyer's daily run: order what is below its reorder point at one DC."""
    dc = w.rng.choice(DCS)
    low = [
        it
        for it in w.pick_skus(12, dc)
        if (s := w.st(it.sku, dc)).ats + s.inbound < 3 * it.case + s.safety
    ]
    if low:
        release_po(w, dc, low[:5])
    elif w.rng.random() < 0.3:
        release_po(w, dc, w.pick_skus(w.rng.randint(1, 3), dc))


def replenish_for(w: World, sku: str, location: str) -> None:
    """A backorder: transfer to a branch from its DC, or order from the supplier."""
    s = w.st(sku, location)
    if location in BRANCHES:
        if s.in_transit <= 0:
            supply.transfer(w, location, [w.by_sku[sku]])
        return
    if s.inbound <= 0:
        release_po(w, location, [w.by_sku[sku]])


def release_po(w: World, dc: str, items: list[Item]) -> None:
    r = w.rng
    po_id = w.next_id("PO")
    plan = PoPlan(policy.Po(po_id, dc), {it.sku: it for it in items})
    lines = []
    for i, it in enumerate(items, 1):
        cases = r.randint(4, 14)
        base = cases * it.case
        tol = r.choice((0, 0, 5, 10))
        if base * tol % 100:
            tol = 0
        line: dict[str, Any] = {"line_id": str(i), "sku": it.sku}
        x = r.random()
        if it.pallet and base % it.pallet == 0 and x < 0.1:
            line.update(qty=base // it.pallet, uom="PL")
        elif x < 0.75:
            line.update(qty=cases, uom="CS")
        else:
            line.update(qty=base)
        if it.lot_tracked:
            line["lot_tracked"] = True
        if tol or r.random() < 0.5:
            line["over_receipt_tolerance_pct"] = tol
        lines.append(line)
        plan.po.lines[str(i)] = policy.PoLine(
            str(i), it.sku, Fraction(base), Fraction(tol), it.lot_tracked
        )
        w.st(it.sku, dc).inbound += base
    w.state[po_id] = plan
    data = {
        "po_id": po_id,
        "supplier_id": items[0].supplier,
        "location": dc,
        "expected_date": _date(w, r.randint(3, 10)),
        "lines": lines,
    }
    w.emit(ERP, "purchase_order.released", ERP_SOURCE, data, correlationid=po_id)
    if r.random() < 0.7:
        w.later(5, 30, lambda: _asn(w, plan))
    w.later(30, 140, lambda: _receive(w, plan))


def _asn(w: World, plan: PoPlan) -> None:
    plan.asn_id = w.next_id("ASN")
    lines = [
        {"po_line_id": ln.line_id, "sku": ln.sku, "qty": int(ln.ordered)}
        for ln in plan.po.lines.values()
    ]
    data = {
        "asn_id": plan.asn_id,
        "po_id": plan.po.po_id,
        "location": plan.po.location,
        "expected_date": _date(w, w.rng.randint(1, 5)),
        "lines": lines,
    }
    if w.rng.random() < 0.5:
        w.emit(COMMERCE, "asn.received", "edi/gateway", data, correlationid=plan.po.po_id)
    else:
        w.emit(ERP, "asn.received", ERP_SOURCE, data, correlationid=plan.po.po_id)


def _receive(w: World, plan: PoPlan, late: bool = False) -> None:
    """The dock receives against the PO: partial, over, damaged, missing lots, substitutes."""
    r = w.rng
    po = plan.po
    out: list[dict[str, Any]] = []
    got: list[policy.ReceivedLine] = []
    for ln in po.lines.values():
        it = plan.items[ln.sku]
        rem = int(ln.remaining)
        x = r.random()
        if late:
            qty = it.case
        elif rem <= 0:
            continue
        elif x < 0.6:
            qty = rem
        elif x < 0.85:
            qty = max(1, rem * r.randint(4, 7) // 10)
        elif x < 0.95:
            qty = int(ln.limit) - int(ln.accepted) + it.case * r.randint(1, 3)
        else:
            continue
        damaged = r.randint(1, min(5, qty)) if r.random() < 0.08 else 0
        lot = None
        if ln.lot_tracked and r.random() > 0.06:
            lot = f"LOT-{r.randrange(10**5):05d}"
        line: dict[str, Any] = {"po_line_id": ln.line_id, "sku": ln.sku}
        if damaged:
            line.update(qty_received=qty, qty_damaged=damaged)
        else:
            q = w.in_uom(it, qty, 0.6)
            line["qty_received"] = q["qty"]
            if "uom" in q:
                line["uom"] = q["uom"]
        if lot:
            line["lot"] = lot
        out.append(line)
        got.append(policy.ReceivedLine(ln.sku, Fraction(qty), Fraction(damaged), ln.line_id, lot))
        if not late and r.random() < 0.03:
            sub = w.pick_skus(1)[0]
            if sub.sku not in plan.items:
                n = sub.case * r.randint(1, 2)
                out.append(
                    {
                        "po_line_id": ln.line_id,
                        "sku": sub.sku,
                        "qty_received": n,
                        "substitute_for_sku": ln.sku,
                    }
                )
                got.append(
                    policy.ReceivedLine(
                        sub.sku, Fraction(n), po_line_id=ln.line_id, substitute_for=ln.sku
                    )
                )
    if not late and r.random() < 0.02:
        extra = w.pick_skus(1)[0]
        if extra.sku not in plan.items:
            out.append({"sku": extra.sku, "qty_received": extra.case})
            got.append(policy.ReceivedLine(extra.sku, Fraction(extra.case)))
    if not out:
        return
    before = po.inbound()
    receipt_id = w.next_id("RC")
    data: dict[str, Any] = {
        "receipt_id": receipt_id,
        "location": po.location,
        "po_id": po.po_id,
        "lines": out,
    }
    if plan.asn_id:
        data["asn_id"] = plan.asn_id
    ev = w.emit(WMS, "receipt.recorded", wms_source(po.location), data, correlationid=po.po_id)
    arrivals = policy.receive(po, got, ev.seq)
    _inbound_sync(w, plan, before)
    plan.receipts += 1
    for a in arrivals:
        s = w.st(a.sku, po.location)
        s.on_hand += int(a.on_hand)
        s.quarantined += int(a.quarantined)
        if a.quarantined:
            _qa_later(w, a.sku, po.location, int(a.quarantined))
    if r.random() < 0.02:  # the WMS sends the same receipt again under a new event id
        w.later(1, 10, lambda: _resend(w, ev.source, data, po.po_id))
    if late or not any(ln.remaining for ln in po.lines.values()):
        return
    x = r.random()
    if x < 0.1:
        w.later(5, 30, lambda: _cancel(w, plan))
    elif x < 0.8 and plan.receipts < 3:
        w.later(20, 100, lambda: _receive(w, plan))


def _resend(w: World, source: str, data: dict[str, Any], po_id: str) -> None:
    w.emit(WMS, "receipt.recorded", source, dict(data), correlationid=po_id)


def _cancel(w: World, plan: PoPlan) -> None:
    before = plan.po.inbound()
    ev = w.emit(
        ERP,
        "purchase_order.cancelled",
        ERP_SOURCE,
        {"po_id": plan.po.po_id, "reason": "supplier cannot deliver the rest"},
        correlationid=plan.po.po_id,
    )
    plan.po.cancelled_at = ev.seq
    plan.cancelled = True
    _inbound_sync(w, plan, before)
    if w.rng.random() < 0.3:  # the truck was already on its way
        w.later(5, 40, lambda: _receive(w, plan, late=True))


def _qa_later(w: World, sku: str, location: str, qty: int) -> None:
    w.later(20, 150, lambda: qa(w, sku, location, qty))


def qa(w: World, sku: str, location: str, qty: int) -> None:
    """Quarantined goods after inspection: released, scrapped, or kept on hold."""
    x = w.rng.random()
    if x < 0.6:
        supply.release(w, sku, location, qty, "QA_RELEASED")
    elif x < 0.85:
        supply.scrap(w, sku, location, qty)
