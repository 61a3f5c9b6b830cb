"""Supply and stock keeping: purchase orders, ASNs and receipts (partial, damaged, over
tolerance, substituted), QA holds, branch transfers, cycle counts, adjustments, item master."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from shared.simulate import policy
from shared.simulate.events import COMMERCE, ERP, WMS
from shared.simulate.model import BRANCHES, DCS, ERP_SOURCE, HOME_DC, Item, World, wms_source


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
            transfer(w, location, [w.by_sku[sku]])
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
        s.countable = False
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
    w.later(20, 150, lambda: _qa(w, sku, location, qty))


def _qa(w: World, sku: str, location: str, qty: int) -> None:
    """Quarantined goods after inspection: released, scrapped, or kept on hold."""
    x = w.rng.random()
    if x < 0.6:
        release(w, sku, location, qty, "QA_RELEASED")
    elif x < 0.85:
        _scrap(w, sku, location, qty)


def release(w: World, sku: str, location: str, qty: int, reason: str) -> None:
    s = w.st(sku, location)
    qty = min(qty, s.quarantined)
    if qty <= 0:
        return
    s.quarantined -= qty
    data = {"location": location, "sku": sku, "qty": qty, "reason_code": reason}
    w.emit(WMS, "inventory.released", wms_source(location), data, correlationid=sku)


def _scrap(w: World, sku: str, location: str, qty: int) -> None:
    s = w.st(sku, location)
    qty = min(qty, s.quarantined, s.on_hand)
    if qty <= 0:
        return
    s.on_hand -= qty
    s.quarantined -= qty
    src = wms_source(location)
    adj = {
        "location": location,
        "sku": sku,
        "qty_delta": -qty,
        "reason_code": "SCRAPPED",
        "user": "qa",
    }
    w.emit(WMS, "inventory.adjusted", src, adj, correlationid=sku)
    rel = {"location": location, "sku": sku, "qty": qty, "reason_code": "SCRAPPED"}
    w.emit(WMS, "inventory.released", src, rel, correlationid=sku)


def transfer(w: World, branch: str | None = None, items: list[Item] | None = None) -> None:
    """Replenish a branch from its DC, in cases, with what the DC can spare."""
    r = w.rng
    branch = branch or r.choice(BRANCHES)
    dc = HOME_DC[branch]
    if items is None:
        items = [
            it
            for it in w.pick_skus(8, branch)
            if (s := w.st(it.sku, branch)).on_hand + s.in_transit < 2 * it.case
        ][:4]
    lines, moved = [], []
    for it in items:
        src = w.st(it.sku, dc)
        cases = min(r.randint(1, 3), src.ats // it.case)
        if cases <= 0:
            continue
        qty = cases * it.case
        src.on_hand -= qty
        w.st(it.sku, branch).in_transit += qty
        q = w.in_uom(it, qty, 0.7)
        lines.append({"sku": it.sku, **q})
        moved.append((it, qty, q))
    if not lines:
        return
    tid = w.next_id("TR")
    data = {"transfer_id": tid, "from_location": dc, "to_location": branch, "lines": lines}
    w.emit(WMS, "transfer.shipped", wms_source(dc), data, correlationid=tid)

    def received() -> None:
        for it, qty, _ in moved:
            s = w.st(it.sku, branch)
            s.in_transit -= qty
            s.on_hand += qty
        back = {"transfer_id": tid, "to_location": branch, "lines": [dict(x) for x in lines]}
        w.emit(WMS, "transfer.received", wms_source(branch), back, correlationid=tid)

    w.later(30, 100, received)


def _random_position(w: World, countable: bool = False) -> tuple[str, str] | None:
    keys = w.stock_keys
    for _ in range(12):
        key = keys[w.rng.randrange(len(keys))]
        s = w.stock[key]
        if (not countable or s.countable) and s.on_hand > 0:
            return key
    return None


def cycle_count(w: World) -> None:
    key = _random_position(w, countable=True)
    if key is not None:
        recount(w, *key)


def recount(w: World, sku: str, location: str) -> None:
    """A cycle count: the shelf as it is, shrinkage and found stock included."""
    s = w.st(sku, location)
    if not s.countable:
        return
    r = w.rng
    x = r.random()
    shrink = 0 if x < 0.7 else -r.randint(1, 3) if x < 0.9 else r.randint(1, 2)
    counted = max(s.on_hand + shrink, s.quarantined + s.staged, 0)
    s.on_hand = counted
    it = w.by_sku[sku]
    q = w.in_uom(it, counted, 0.2)
    data: dict[str, Any] = {
        "location": location,
        "sku": sku,
        "counted_qty": q["qty"],
        "user": f"counter{r.randint(1, 9)}",
    }
    if "uom" in q:
        data["uom"] = q["uom"]
    w.emit(WMS, "inventory.counted", wms_source(location), data, correlationid=sku)


def adjust(w: World) -> None:
    key = _random_position(w)
    if key is None:
        return
    sku, loc = key
    s = w.st(sku, loc)
    r = w.rng
    if r.random() < 0.6 or s.unreserved <= 0:
        delta, reason = r.randint(1, 3), "FOUND"
    else:
        delta, reason = -r.randint(1, min(3, s.unreserved)), "DAMAGED"
    s.on_hand += delta
    it = w.by_sku[sku]
    data: dict[str, Any] = {
        "location": loc,
        "sku": sku,
        "reason_code": reason,
        "user": f"clerk{r.randint(1, 9)}",
    }
    if abs(delta) % it.case == 0 and r.random() < 0.5:
        data.update(qty_delta=delta // it.case, uom="CS")
    else:
        data["qty_delta"] = delta
    w.emit(WMS, "inventory.adjusted", wms_source(loc), data, correlationid=sku)


def hold(w: World) -> None:
    """QA puts stock on hold; it is released later, or scrapped."""
    key = _random_position(w)
    if key is None:
        return
    sku, loc = key
    s = w.st(sku, loc)
    if s.unreserved <= 0:
        return
    qty = w.rng.randint(1, min(10, s.unreserved))
    s.quarantined += qty
    data = {"location": loc, "sku": sku, "qty": qty, "reason_code": "QA_HOLD"}
    w.emit(WMS, "inventory.quarantined", wms_source(loc), data, correlationid=sku)
    if w.rng.random() < 0.8:
        w.later(20, 150, lambda: release(w, sku, loc, qty, "QA_RELEASED"))
    else:
        w.later(20, 150, lambda: _scrap(w, sku, loc, qty))


def item_update(w: World) -> None:
    """The item master changes an item's safety stock (the whole map is sent)."""
    it = w.rng.choice(w.items)
    it.safety = (
        {} if it.safety and w.rng.random() < 0.3 else {dc: w.rng.randint(1, 6) * 5 for dc in DCS}
    )
    for (sku, loc), s in w.stock.items():
        if sku == it.sku:
            s.safety = it.safety.get(loc, 0)
    data = {
        "sku": it.sku,
        "base_uom": "EA",
        "uom_conversions": it.conversions(),
        "safety_stock": dict(it.safety),
    }
    w.emit(ERP, "item.updated", ERP_SOURCE, data, correlationid=it.sku)


def blind_or_stray(w: World) -> None:
    """Goods nobody announced: a blind receipt at a DC, or a return without an RMA."""
    it = w.pick_skus(1)[0]
    loc = w.rng.choice(DCS)
    s = w.st(it.sku, loc)
    if w.rng.random() < 0.5:
        qty = it.case
        s.on_hand += qty
        s.quarantined += qty
        s.countable = False
        data = {
            "receipt_id": w.next_id("RC"),
            "location": loc,
            "lines": [{"sku": it.sku, "qty_received": qty}],
        }
        w.emit(WMS, "receipt.recorded", wms_source(loc), data)
        w.later(20, 150, lambda: _qa(w, it.sku, loc, qty))
    else:
        s.on_hand += 1
        s.quarantined += 1
        rma = w.next_id("RMA")
        data = {"rma_id": rma, "location": loc, "lines": [{"sku": it.sku, "qty": 1}]}
        w.emit(
            WMS, "return.received", wms_source(loc), data, correlationid=rma, causal=(f"rma:{rma}",)
        )
