"""The simulated distributor: catalog, warehouses, stock as the WMS and ERP know it, and the
scheduler that turns business processes into the events each system publishes.

Everything is drawn from one seeded RNG, so a seed gives the same stream of events (ids
included). Processes (an order, a purchase order, a transfer...) are chains of steps on an
agenda measured in steps of the generator; each step emits what one system would publish.
"""

from __future__ import annotations

import heapq
import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from distsync_sim.simulate.events import ERP, WMS, SimEvent, event_id

DCS = ("DC-EAST", "DC-WEST")
BRANCHES = ("BR-NORTH", "BR-SOUTH")
LOCATIONS = DCS + BRANCHES
HOME_DC = {"BR-NORTH": "DC-EAST", "BR-SOUTH": "DC-WEST"}
ERP_SOURCE = "erp/sap"


def wms_source(location: str) -> str:
    return "wms/" + location.lower()


@dataclass(frozen=True)
class SimConfig:
    seed: int = 1
    skus: int = 2000
    tag: str = ""  # prefix of every business id, so runs sharing databases never collide
    branch_share: float = 0.4  # share of SKUs stocked in the branches


@dataclass
class Item:
    sku: str
    case: int  # EA per CS
    pallet: int | None  # EA per PL
    lot_tracked: bool
    supplier: str
    weight: float  # demand weight
    safety: dict[str, int] = field(default_factory=dict)

    def conversions(self) -> dict[str, float]:
        out: dict[str, float] = {"CS": float(self.case)}
        if self.pallet:
            out["PL"] = float(self.pallet)
        return out


@dataclass
class Stock:
    """One position as the WMS/ERP see it (base units); `staged` = picked, not yet shipped."""

    on_hand: int = 0
    allocated: int = 0
    quarantined: int = 0
    in_transit: int = 0
    staged: int = 0
    inbound: int = 0
    safety: int = 0

    @property
    def ats(self) -> int:
        return max(0, self.on_hand - self.allocated - self.quarantined - self.safety)

    @property
    def unreserved(self) -> int:
        """Physically there and promised to nobody."""
        return max(0, self.on_hand - self.allocated - self.quarantined)

    @property
    def pickable(self) -> int:
        return max(0, self.on_hand - self.quarantined - self.staged)


Task = Callable[[], None]


class World:
    """The distributor's state and its event emitter; processes live in `orders` and `supply`."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.ns = uuid.uuid5(uuid.NAMESPACE_URL, f"distsync-simulate/{cfg.tag}/{cfg.seed}")
        self.tag = cfg.tag
        self.seq = 0
        self.tick = 0
        self.out: list[SimEvent] = []
        self._agenda: list[tuple[int, int, Task]] = []
        self._n = 0
        self._counters: dict[str, int] = {}
        self.items: list[Item] = []
        self.by_sku: dict[str, Item] = {}
        self.stock: dict[tuple[str, str], Stock] = {}
        self.stock_keys: list[tuple[str, str]] = []
        self.branch_skus: list[str] = []
        self.state: dict[str, Any] = {}  # per-process records, keyed by process id
        self._build_catalog()

    # -- ids and events ------------------------------------------------------------------------

    def next_id(self, kind: str, width: int = 6) -> str:
        n = self._counters.get(kind, 0) + 1
        self._counters[kind] = n
        return f"{self.tag}{kind}-{n:0{width}d}"

    def number(self, kind: str) -> int:
        n = self._counters.get(kind, 0) + 1
        self._counters[kind] = n
        return n

    def emit(
        self,
        exchange: str,
        type: str,
        source: str,
        data: dict[str, Any],
        *,
        correlationid: str | None = None,
        causal: tuple[str, ...] = (),
        same_time_as: str | None = None,
    ) -> SimEvent:
        self.seq += 1
        ev = SimEvent(
            seq=self.seq,
            id=event_id(self.ns, self.seq),
            exchange=exchange,
            type=type,
            source=source,
            data=data,
            correlationid=correlationid,
            causal=causal,
            same_time_as=same_time_as,
        )
        self.out.append(ev)
        return ev

    def later(self, lo: int, hi: int, task: Task) -> None:
        """Run `task` in lo..hi generator steps from now."""
        self._n += 1
        heapq.heappush(self._agenda, (self.tick + self.rng.randint(lo, hi), self._n, task))

    # -- catalog and stock ---------------------------------------------------------------------

    def _build_catalog(self) -> None:
        r = self.rng
        suppliers = [f"SUP-{i:03d}" for i in range(1, 31)]
        for i in range(1, self.cfg.skus + 1):
            case = r.choice((6, 10, 12, 12, 20, 24, 50))
            item = Item(
                sku=f"{self.tag}SKU-{i:05d}",
                case=case,
                pallet=case * r.choice((20, 40, 48)) if r.random() < 0.4 else None,
                lot_tracked=r.random() < 0.12,
                supplier=r.choice(suppliers),
                weight=1.0 / (r.random() * 0.9 + 0.1) ** 1.3,
            )
            if r.random() < 0.3:
                item.safety = {dc: r.randint(1, 4) * 5 for dc in DCS}
            self.items.append(item)
            self.by_sku[item.sku] = item
        self.branch_skus = [it.sku for it in self.items if r.random() < self.cfg.branch_share]
        self._skus = [it.sku for it in self.items]
        self._cum = list(itertools.accumulate(it.weight for it in self.items))
        self._branch_cum = list(
            itertools.accumulate(self.by_sku[s].weight for s in self.branch_skus)
        )

    def st(self, sku: str, location: str) -> Stock:
        key = (sku, location)
        s = self.stock.get(key)
        if s is None:
            s = self.stock[key] = Stock(safety=self.by_sku[sku].safety.get(location, 0))
            self.stock_keys.append(key)
        return s

    def pick_skus(self, n: int, location: str | None = None) -> list[Item]:
        """`n` distinct SKUs by demand weight (branch SKUs only for a branch)."""
        if location in BRANCHES and self.branch_skus:
            pool, cum = self.branch_skus, self._branch_cum
        else:
            pool, cum = self._skus, self._cum
        out: dict[str, Item] = {}
        for _ in range(n * 4):
            if len(out) >= min(n, len(pool)):
                break
            sku = self.rng.choices(pool, cum_weights=cum)[0]
            out[sku] = self.by_sku[sku]
        return list(out.values())

    def in_uom(self, item: Item, qty: int, p_case: float = 0.5) -> dict[str, Any]:
        """A quantity as a WMS would write it: in cases when it divides, sometimes as EA."""
        r = self.rng.random()
        if qty and qty % item.case == 0 and r < p_case:
            return {"qty": qty // item.case, "uom": "CS"}
        if item.pallet and qty and qty % item.pallet == 0 and r < p_case + 0.1:
            return {"qty": qty // item.pallet, "uom": "PL"}
        if r > 0.9:
            return {"qty": qty, "uom": "EA"}
        return {"qty": qty}

    # -- the generator -------------------------------------------------------------------------

    def bootstrap(self) -> list[SimEvent]:
        """Go-live: the item master, then opening balances as physical inventory counts."""
        for it in self.items:
            data: dict[str, Any] = {
                "sku": it.sku,
                "base_uom": "EA",
                "uom_conversions": it.conversions(),
            }
            if it.safety:
                data["safety_stock"] = dict(it.safety)
            self.emit(ERP, "item.updated", ERP_SOURCE, data, correlationid=it.sku)
        for it in self.items:
            for loc in DCS:
                self._opening(it, loc, self.rng.randint(2, 10) * it.case)
        for sku in self.branch_skus:
            it = self.by_sku[sku]
            self._opening(it, self.rng.choice(BRANCHES), self.rng.randint(1, 4) * it.case)
        out, self.out = self.out, []
        return out

    def _opening(self, it: Item, loc: str, qty: int) -> None:
        if self.rng.random() < 0.15:
            return  # not stocked there yet
        s = self.st(it.sku, loc)
        s.on_hand = qty
        q = self.in_uom(it, qty, 0.3)
        data = {"location": loc, "sku": it.sku, "counted_qty": q["qty"], "user": "golive"}
        if "uom" in q:
            data["uom"] = q["uom"]
        self.emit(WMS, "inventory.counted", wms_source(loc), data, correlationid=it.sku)

    def step(self) -> list[SimEvent]:
        """One step: the next due task of a running process, or a new process."""
        from distsync_sim.simulate import orders, purchasing, supply

        self.tick += 1
        if self._agenda and self._agenda[0][0] <= self.tick:
            _, _, task = heapq.heappop(self._agenda)
            task()
        else:
            r = self.rng.random()
            if r < 0.62:
                orders.start_order(self)
            elif r < 0.70:
                supply.cycle_count(self)
            elif r < 0.76:
                supply.transfer(self)
            elif r < 0.81:
                supply.adjust(self)
            elif r < 0.85:
                supply.hold(self)
            elif r < 0.95:
                purchasing.replenish(self)
            elif r < 0.953:
                supply.item_update(self)
            else:
                supply.blind_or_stray(self)
        out, self.out = self.out, []
        return out

    def stats(self) -> dict[str, int]:
        return dict(self._counters)
