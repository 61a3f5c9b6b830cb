"""Customer returns after delivery: authorized by the ERP or the portal, received (in full,
short, over, with an unexpected SKU), inspected with mixed dispositions.

The dispositions are the returns service's (`returns.messages.Disposition`); what each does to
the stock is availability's table (`availability.domain.rules.DISPOSITIONS`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from availability.domain.rules import DISPOSITIONS
from distsync_sim.simulate import supply
from distsync_sim.simulate.events import COMMERCE, ERP, WMS
from distsync_sim.simulate.model import ERP_SOURCE, World, wms_source
from returns.messages import Disposition

if TYPE_CHECKING:
    from distsync_sim.simulate.orders import Order

RETURN_REASONS = ("damaged in transit", "wrong item", "not needed", "defective")
# how often an inspector picks each disposition
DISPOSITION_WEIGHTS: dict[Disposition, float] = {
    "restock": 0.6,
    "refurbish": 0.1,
    "scrap": 0.2,
    "return_to_vendor": 0.1,
}


def start_return(w: World, o: Order) -> None:
    r = w.rng
    shipped = [ln for ln in o.lines if ln.shipped > 0]
    chosen = r.sample(shipped, min(len(shipped), r.randint(1, 2)))
    rma_id = w.next_id("RMA")
    lines = [
        {
            "line_id": ln.line_id,
            "sku": ln.sku,
            "qty": r.randint(1, min(ln.shipped, 5)),
            "reason": r.choice(RETURN_REASONS),
        }
        for ln in chosen
    ]
    data = {"rma_id": rma_id, "order_id": o.order_id, "location": o.location, "lines": lines}
    if r.random() < 0.6:
        w.emit(ERP, "return.authorized", ERP_SOURCE, data, correlationid=rma_id)
    else:
        w.emit(COMMERCE, "return.authorized", "portal/customer", data, correlationid=rma_id)
    w.later(20, 80, lambda: _receive_return(w, o, rma_id, lines))


def _receive_return(w: World, o: Order, rma_id: str, auth: list[dict[str, Any]]) -> None:
    r = w.rng
    got: list[dict[str, Any]] = []
    for i, ln in enumerate(auth):
        qty = int(ln["qty"])
        x = r.random()
        if x < 0.1 and qty > 1:
            qty -= 1
        elif x < 0.15:
            qty += 1
        elif x < 0.2 and i > 0:
            continue
        got.append({"sku": ln["sku"], "qty": qty})
    extra = w.pick_skus(1)[0].sku
    if r.random() < 0.03 and all(g["sku"] != extra for g in got):
        got.append({"sku": extra, "qty": 1})
    for g in got:
        s = w.st(g["sku"], o.location)
        s.on_hand += g["qty"]
        s.quarantined += g["qty"]
    key = (f"rma:{rma_id}",)
    w.emit(
        WMS,
        "return.received",
        wms_source(o.location),
        {"rma_id": rma_id, "location": o.location, "lines": got},
        correlationid=rma_id,
        causal=key,
    )
    todo = {g["sku"]: int(g["qty"]) for g in got}
    if r.random() < 0.25 and sum(todo.values()) > 1:
        first = {sku: q // 2 for sku, q in todo.items() if q // 2 > 0}
        rest = {sku: q - first.get(sku, 0) for sku, q in todo.items()}
        w.later(10, 60, lambda: _inspect(w, o, rma_id, first))
        w.later(70, 120, lambda: _inspect(w, o, rma_id, rest))
    else:
        w.later(10, 60, lambda: _inspect(w, o, rma_id, todo))


def _refurbished(w: World, sku: str, location: str, n: int) -> None:
    w.later(20, 100, lambda: supply.release(w, sku, location, n, "REFURBISHED"))


def _inspect(w: World, o: Order, rma_id: str, qtys: dict[str, int]) -> None:
    r = w.rng
    lines = []
    for sku, q in qtys.items():
        if q <= 0:
            continue
        disp = r.choices(list(DISPOSITION_WEIGHTS), list(DISPOSITION_WEIGHTS.values()), k=2)
        parts = (
            [(disp[0], q)]
            if q == 1 or disp[0] == disp[1]
            else [
                (disp[0], q // 2),
                (disp[1], q - q // 2),
            ]
        )
        for d, n in parts:
            lines.append({"sku": sku, "qty": n, "disposition": d})
            on_hand, quarantined = DISPOSITIONS[d]
            s = w.st(sku, o.location)
            s.on_hand += on_hand * n
            s.quarantined += quarantined * n
            if d == "refurbish" and r.random() < 0.5:
                _refurbished(w, sku, o.location, n)
    if not lines:
        return
    w.emit(
        WMS,
        "return.inspected",
        wms_source(o.location),
        {"rma_id": rma_id, "location": o.location, "lines": lines},
        correlationid=rma_id,
        causal=(f"rma:{rma_id}",),
    )
