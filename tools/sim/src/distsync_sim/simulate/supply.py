"""Stock keeping: QA holds and releases, scrap, branch transfers, cycle counts, adjustments,
item master changes, and goods nobody announced."""

from __future__ import annotations

from typing import Any

from distsync_sim.simulate import purchasing
from distsync_sim.simulate.events import ERP, WMS
from distsync_sim.simulate.model import BRANCHES, DCS, ERP_SOURCE, HOME_DC, Item, World, wms_source


def release(w: World, sku: str, location: str, qty: int, reason: str) -> None:
    s = w.st(sku, location)
    qty = min(qty, s.quarantined)
    if qty <= 0:
        return
    s.quarantined -= qty
    data = {"location": location, "sku": sku, "qty": qty, "reason_code": reason}
    w.emit(WMS, "inventory.released", wms_source(location), data, correlationid=sku)


def scrap(w: World, sku: str, location: str, qty: int) -> None:
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


def _random_position(w: World) -> tuple[str, str] | None:
    keys = w.stock_keys
    for _ in range(12):
        key = keys[w.rng.randrange(len(keys))]
        if w.stock[key].on_hand > 0:
            return key
    return None


def cycle_count(w: World) -> None:
    key = _random_position(w)
    if key is not None:
        recount(w, *key)


def recount(w: World, sku: str, location: str) -> None:
    """A cycle count: the shelf as it is, shrinkage and found stock included."""
    s = w.st(sku, location)
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
        w.later(20, 150, lambda: scrap(w, sku, loc, qty))


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
        data = {
            "receipt_id": w.next_id("RC"),
            "location": loc,
            "lines": [{"sku": it.sku, "qty_received": qty}],
        }
        w.emit(WMS, "receipt.recorded", wms_source(loc), data)
        w.later(20, 150, lambda: purchasing.qa(w, it.sku, loc, qty))
    else:
        s.on_hand += 1
        s.quarantined += 1
        rma = w.next_id("RMA")
        data = {"rma_id": rma, "location": loc, "lines": [{"sku": it.sku, "qty": 1}]}
        w.emit(
            WMS, "return.received", wms_source(loc), data, correlationid=rma, causal=(f"rma:{rma}",)
        )
