"""Sales orders from the web shop, EDI customers, phone and branch counters: allocation,
backorders, picks (partial and short), packs, split shipments, carrier scans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distsync_sim.simulate import purchasing, returns_flow, supply
from distsync_sim.simulate.carriers import CARRIER_WEIGHTS, PROFILES, description
from distsync_sim.simulate.events import CARRIER, COMMERCE, ERP, WMS
from distsync_sim.simulate.model import BRANCHES, DCS, ERP_SOURCE, World, wms_source


@dataclass
class Line:
    line_id: str
    sku: str
    qty: int
    allocated: int = 0  # allocated and not deallocated (shipped units included)
    backordered: int = 0  # open backorder
    picked: int = 0
    packed: int = 0  # on a shipment
    shipped: int = 0


@dataclass
class Shipment:
    shipment_id: str
    carrier: str
    tracking: str
    lines: list[tuple[Line, int]]
    delivered: bool = False


@dataclass
class Order:
    order_id: str
    channel: str
    location: str
    lines: list[Line]
    retries: int = 0
    cancelled: bool = False
    picking: bool = False
    shipments: list[Shipment] = field(default_factory=list)


def _erp(w: World, type: str, o: Order, data: dict[str, Any]) -> None:
    w.emit(ERP, type, ERP_SOURCE, {"order_id": o.order_id, **data}, correlationid=o.order_id)


def _native(w: World, o: Order, exchange: str, source: str, native: str, **extra: Any) -> None:
    data = {"order_id": o.order_id, "native_status": native, **extra}
    w.emit(exchange, "order.status_reported", source, data, correlationid=o.order_id)


def start_order(w: World) -> None:
    r = w.rng
    x = r.random()
    channel = "web" if x < 0.45 else "edi" if x < 0.75 else "phone" if x < 0.9 else "counter"
    loc = r.choice(BRANCHES) if channel == "counter" else r.choice(DCS)
    n = {"web": (1, 3), "edi": (2, 6), "phone": (1, 4), "counter": (1, 2)}[channel]
    items = w.pick_skus(r.randint(*n), loc)
    lines = []
    for i, it in enumerate(items, 1):
        qty = {
            "web": r.randint(1, 12),
            "edi": it.case * r.randint(1, 4),
            "phone": r.randint(1, 40),
            "counter": r.randint(1, 6),
        }[channel]
        lines.append(Line(str(i * 10), it.sku, qty))
    o = Order(w.next_id("SO"), channel, loc, lines)
    w.state[o.order_id] = o
    _erp(
        w,
        "order.created",
        o,
        {
            "channel": channel,
            "customer_id": f"CUST-{r.randint(1, 900):04d}",
            "lines": [{"line_id": ln.line_id, "sku": ln.sku, "qty": ln.qty} for ln in lines],
            "promised_date": f"2026-12-{r.randint(2, 28):02d}",
        },
    )
    if channel == "web":
        w.later(1, 3, lambda: _native(w, o, COMMERCE, "commerce/webshop", "payment_authorized"))
    elif channel == "edi":
        w.later(1, 3, lambda: _native(w, o, COMMERCE, "edi/gateway", "accepted"))
    if r.random() < 0.01:
        w.later(1, 10, lambda: _native(w, o, ERP, ERP_SOURCE, "ZREL-7"))
    if channel in ("phone", "edi") and r.random() < 0.06:
        w.later(1, 4, lambda: _credit_hold(w, o))
    else:
        w.later(3, 20, lambda: allocate(w, o))


def _credit_hold(w: World, o: Order) -> None:
    _native(w, o, ERP, ERP_SOURCE, "credit_hold", reason="credit limit exceeded")
    if w.rng.random() < 0.15:
        w.later(20, 80, lambda: cancel(w, o, "credit refused"))
        return

    def release() -> None:
        _native(w, o, ERP, ERP_SOURCE, "credit_released")
        w.later(2, 10, lambda: allocate(w, o))

    w.later(15, 60, release)


def allocate(w: World, o: Order) -> None:
    """Allocate what is available to sell at the order's location; backorder the rest."""
    if o.cancelled:
        return
    alloc, bo = [], []
    for ln in o.lines:
        need = ln.qty - ln.allocated - ln.backordered
        if need <= 0:
            continue
        s = w.st(ln.sku, o.location)
        a = min(need, s.ats)
        if a > 0:
            s.allocated += a
            ln.allocated += a
            alloc.append({"line_id": ln.line_id, "sku": ln.sku, "location": o.location, "qty": a})
        if need - a > 0:
            ln.backordered += need - a
            bo.append({"line_id": ln.line_id, "sku": ln.sku, "qty": need - a})
            purchasing.replenish_for(w, ln.sku, o.location)
    if alloc:
        _erp(w, "order.allocated", o, {"lines": alloc})
    if bo:
        _erp(w, "order.backordered", o, {"lines": bo, "expected_date": "2026-12-15"})
    _next(w, o, fresh=True)


def _next(w: World, o: Order, fresh: bool = False) -> None:
    """After an allocation: cancel, pick, wait for the backorder, or give up waiting."""
    r = w.rng
    open_bo = sum(ln.backordered for ln in o.lines)
    to_pick = sum(ln.allocated - ln.picked for ln in o.lines)
    if fresh and r.random() < 0.03:
        w.later(5, 30, lambda: cancel(w, o, "customer cancelled"))
        return
    if fresh and to_pick and not open_bo and r.random() < 0.2:
        w.later(1, 5, lambda: _native(w, o, WMS, wms_source(o.location), "waved"))
    if open_bo and o.retries < 2:
        w.later(40, 120, lambda: retry_backorder(w, o))
        if to_pick and w.rng.random() < 0.5:
            w.later(10, 50, lambda: pick(w, o))  # ship what is there, backorder follows
        return
    if to_pick:
        w.later(10, 50, lambda: pick(w, o))
    elif open_bo and not any(ln.allocated for ln in o.lines) and r.random() < 0.5:
        w.later(5, 30, lambda: cancel(w, o, "backorder not accepted"))


def retry_backorder(w: World, o: Order) -> None:
    if o.cancelled:
        return
    o.retries += 1
    alloc = []
    for ln in o.lines:
        if ln.backordered <= 0:
            continue
        s = w.st(ln.sku, o.location)
        a = min(ln.backordered, s.ats)
        if a > 0:
            s.allocated += a
            ln.allocated += a
            ln.backordered -= a
            alloc.append({"line_id": ln.line_id, "sku": ln.sku, "location": o.location, "qty": a})
    if alloc:
        _erp(w, "order.allocated", o, {"lines": alloc})
    if not o.picking:
        _next(w, o)


def cancel(w: World, o: Order, reason: str) -> None:
    """Before anything was picked: release every allocation, then cancel."""
    if o.cancelled or any(ln.picked for ln in o.lines):
        return
    o.cancelled = True
    dealloc = []
    for ln in o.lines:
        if ln.allocated > 0:
            w.st(ln.sku, o.location).allocated -= ln.allocated
            dealloc.append(
                {"line_id": ln.line_id, "sku": ln.sku, "location": o.location, "qty": ln.allocated}
            )
            ln.allocated = 0
    if dealloc:
        _erp(w, "order.deallocated", o, {"lines": dealloc, "reason": reason})
    _erp(w, "order.cancelled", o, {"reason": reason})


def pick(w: World, o: Order, wave: int = 1) -> None:
    """Pick what is allocated; a short pick deallocates and backorders what was not there."""
    if o.cancelled or (o.picking and wave == 1):
        return
    o.picking = True
    todo = [ln for ln in o.lines if ln.allocated - ln.picked > 0]
    split = wave == 1 and len(todo) > 1 and w.rng.random() < 0.2
    now = todo[: len(todo) // 2] if split else todo
    picked, shorts = [], []
    for ln in now:
        want = ln.allocated - ln.picked
        s = w.st(ln.sku, o.location)
        q = min(want, s.pickable)
        if q > 0:
            s.staged += q
            ln.picked += q
            picked.append({"line_id": ln.line_id, "sku": ln.sku, "qty_picked": q})
        if want - q > 0:
            short = want - q
            s.allocated -= short
            ln.allocated -= short
            ln.backordered += short
            shorts.append((ln, short))
            supply.recount(w, ln.sku, o.location)
    if picked:
        w.emit(
            WMS,
            "pick.completed",
            wms_source(o.location),
            {"order_id": o.order_id, "location": o.location, "lines": picked},
            correlationid=o.order_id,
        )
    if shorts:
        dl = [
            {"line_id": ln.line_id, "sku": ln.sku, "location": o.location, "qty": q}
            for ln, q in shorts
        ]
        _erp(w, "order.deallocated", o, {"lines": dl, "reason": "short pick"})
        bo = [{"line_id": ln.line_id, "sku": ln.sku, "qty": q} for ln, q in shorts]
        _erp(w, "order.backordered", o, {"lines": bo})
    if split:
        w.later(5, 30, lambda: pick(w, o, 2))
        return
    o.picking = False
    if any(ln.picked - ln.packed > 0 for ln in o.lines):
        w.later(5, 20, lambda: pack(w, o))
    if shorts and o.retries < 3:
        w.later(40, 120, lambda: retry_backorder(w, o))


def pack(w: World, o: Order) -> None:
    """Put what is picked into one shipment, or two (split by line or by quantity)."""
    cand = [(ln, ln.picked - ln.packed) for ln in o.lines if ln.picked - ln.packed > 0]
    if not cand:
        return
    r = w.rng
    groups: list[list[tuple[Line, int]]] = [cand]
    if len(cand) > 1 and r.random() < 0.25:
        cut = r.randint(1, len(cand) - 1)
        groups = [cand[:cut], cand[cut:]]
    elif len(cand) == 1 and cand[0][1] >= 2 and r.random() < 0.1:
        ln, q = cand[0]
        groups = [[(ln, q // 2)], [(ln, q - q // 2)]]
    for ln, q in cand:
        ln.packed += q
    _pack_one(w, o, groups[0])
    for g in groups[1:]:
        _pack_later(w, o, g)


def _pack_later(w: World, o: Order, lines: list[tuple[Line, int]]) -> None:
    w.later(10, 50, lambda: _pack_one(w, o, lines))


def _tracking(w: World, carrier: str) -> str:
    n = w.number("TRK")
    tag = "".join(ch for ch in w.tag.upper() if ch.isalnum())
    digits = f"{w.rng.randrange(10**6):06d}{n:08d}"
    prefix = {"ups": "1Z", "fedex": "7", "dhl": "JD", "usps": "94"}[carrier]
    return f"{prefix}{tag}{digits}"


def _pack_one(w: World, o: Order, lines: list[tuple[Line, int]]) -> None:
    weights = dict(CARRIER_WEIGHTS)
    if o.channel == "web":
        weights["usps"] += 0.3
    carrier = w.rng.choices(list(weights), list(weights.values()))[0]
    sh = Shipment(w.next_id("SH"), carrier, _tracking(w, carrier), lines)
    o.shipments.append(sh)
    w.emit(
        WMS,
        "pack.completed",
        wms_source(o.location),
        {"order_id": o.order_id, "shipment_id": sh.shipment_id, "location": o.location},
        correlationid=o.order_id,
    )
    w.later(1, 8, lambda: ship(w, o, sh))


def ship(w: World, o: Order, sh: Shipment) -> None:
    lines = []
    for ln, q in sh.lines:
        s = w.st(ln.sku, o.location)
        s.on_hand -= q
        s.allocated -= q
        s.staged -= q
        ln.shipped += q
        lines.append({"line_id": ln.line_id, "sku": ln.sku, "qty": q})
    w.emit(
        WMS,
        "shipment.shipped",
        wms_source(o.location),
        {
            "shipment_id": sh.shipment_id,
            "order_id": o.order_id,
            "location": o.location,
            "carrier": sh.carrier,
            "tracking_number": sh.tracking,
            "lines": lines,
        },
        correlationid=o.order_id,
    )
    _scan_chain(w, o, sh, _scan_plan(w, sh.carrier), 0, [])


def _scan_plan(w: World, carrier: str) -> list[str]:
    r = w.rng
    plan = ["label"] + (["pickup"] if r.random() < 0.8 else []) + ["transit"] * r.randint(0, 2)
    if r.random() < 0.07:
        plan.insert(r.randint(1, len(plan)), "exception")
        plan.append("transit")
    if r.random() < 0.03:
        plan.insert(r.randint(1, len(plan)), "info")
    plan.append("ofd")
    if PROFILES[carrier]["attempt"] and r.random() < 0.08:
        plan += ["attempt", "ofd"]
    plan.append("exception" if r.random() < 0.02 else "delivered")
    return plan


def _scan_chain(w: World, o: Order, sh: Shipment, plan: list[str], i: int, sent: list[str]) -> None:
    if i >= len(plan):
        return

    def scan() -> None:
        step = plan[i]
        code = w.rng.choice(PROFILES[sh.carrier][step])
        data = {
            "carrier": sh.carrier,
            "tracking_number": sh.tracking,
            "native_code": code,
            "description": description(sh.carrier, code),
        }
        ev = w.emit(CARRIER, "tracking.reported", f"carrier/{sh.carrier}", data)
        sent.append(ev.id)
        if w.rng.random() < 0.02:  # the carrier sends the same scan again, under a new id
            w.later(1, 20, lambda: _rescan(w, ev.source, data, ev.id))
        if step == "delivered":
            sh.delivered = True
            _after_delivery(w, o)
        _scan_chain(w, o, sh, plan, i + 1, sent)

    w.later(3, 30, scan)


def _rescan(w: World, source: str, data: dict[str, Any], first: str) -> None:
    w.emit(CARRIER, "tracking.reported", source, dict(data), same_time_as=first)


def _after_delivery(w: World, o: Order) -> None:
    done = all(s.delivered for s in o.shipments) and all(ln.shipped >= ln.qty for ln in o.lines)
    if done and w.rng.random() < 0.07:
        w.later(20, 100, lambda: returns_flow.start_return(w, o))
