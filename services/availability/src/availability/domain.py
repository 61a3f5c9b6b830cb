"""Pure availability domain: one position per (sku, location), unit conversion, counts.

Quantities are integers in millionths of the base unit (`micro`), so that sums are exact and
therefore independent of the order they are added in; floats exist only at the edges.
State types are frozen slotted dataclasses rather than pydantic models: they are rebuilt for
every event on the hot path and never validated from outside (store.py converts documents).
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

from shared.errors import Rejected

MICRO = 1_000_000
DEFAULT_LOG_MAX = 500
_CTX = Context(prec=60, rounding=ROUND_HALF_EVEN)


def to_micro(qty: float, factor: float = 1.0) -> int:
    """`qty` (times `factor`) in millionths, computed in decimal so one input gives one answer."""
    d = _CTX.multiply(_CTX.multiply(Decimal(repr(qty)), Decimal(repr(factor))), Decimal(MICRO))
    return int(d.to_integral_value(rounding=ROUND_HALF_EVEN))


def to_units(micro: int) -> float:
    return micro / MICRO


def available_to_sell(on_hand: int, allocated: int, quarantined: int, safety_stock: int) -> int:
    return max(0, on_hand - allocated - quarantined - safety_stock)


def available_to_promise(ats: int, in_transit: int, inbound: int, returns_pending: int) -> int:
    return ats + in_transit + inbound + returns_pending


@dataclass(frozen=True, order=True, slots=True)
class Stamp:
    """When a value was true at its source; the event id breaks ties between equal times."""

    at: datetime
    event_id: str


def make_stamp(at: datetime, event_id: str) -> Stamp:
    """Event time truncated to milliseconds, the precision MongoDB stores, so that comparisons
    give the same answer before and after a round trip through the database."""
    return Stamp(at.replace(microsecond=at.microsecond // 1000 * 1000), event_id)


@dataclass(frozen=True, slots=True)
class Item:
    """Item master. The safety-stock map keeps its own stamp: an `item.updated` without one
    leaves it alone, so each part is simply the newest value that was sent for it."""

    sku: str
    base_uom: str
    conversions: tuple[tuple[str, float], ...]  # (uom, base units per uom)
    stamp: Stamp
    safety_stock: tuple[tuple[str, int], ...] = ()  # (location, micro), sorted by location
    safety_stamp: Stamp | None = None

    def factor(self, uom: str) -> float | None:
        if uom == self.base_uom:
            return 1.0
        for u, f in self.conversions:
            if u == uom:
                return f
        return None

    def safety_for(self, location: str) -> int:
        for loc, qty in self.safety_stock:
            if loc == location:
                return qty
        return 0


def conversion_factor(uom: str | None, item: Item | None) -> float | None:
    """Base units per `uom`; no uom means the base unit; None when the conversion is unknown."""
    if uom is None:
        return 1.0
    return item.factor(uom) if item is not None else None


def convert(sku: str, qty: float, uom: str | None, item: Item | None) -> int:
    """`qty` in `uom` as micro base units; an unknown unit is refused, never guessed."""
    factor = conversion_factor(uom, item)
    if factor is None:
        raise Rejected(
            f"no conversion from {uom} to base unit for {sku}; publish item.updated then replay"
        )
    return to_micro(qty, factor)


def update_item(
    current: Item | None,
    *,
    sku: str,
    base_uom: str,
    conversions: Mapping[str, float],
    safety_stock: Mapping[str, float] | None,
    stamp: Stamp,
) -> tuple[Item, tuple[str, ...]] | None:
    """The new item record and the locations whose safety stock changed; None if nothing in
    the update is newer than what is kept. `safety_stock`, when present, is the whole map."""
    newer_master = current is None or stamp > current.stamp
    newer_safety = safety_stock is not None and (
        current is None or current.safety_stamp is None or stamp > current.safety_stamp
    )
    if not newer_master and not newer_safety:
        return None
    item = current or Item(sku, base_uom, (), stamp)
    if newer_master:
        item = replace(item, base_uom=base_uom, conversions=tuple(sorted(conversions.items())))
        item = replace(item, stamp=stamp)
    if safety_stock is not None and newer_safety:
        safety = tuple(sorted((loc, to_micro(q)) for loc, q in safety_stock.items()))
        item = replace(item, safety_stock=safety, safety_stamp=stamp)
    old = current.safety_stock if current is not None else ()
    locations = {loc for loc, _ in item.safety_stock} | {loc for loc, _ in old}
    changed = [
        loc
        for loc in sorted(locations)
        if current is None or current.safety_for(loc) != item.safety_for(loc)
    ]
    return item, tuple(changed)


@dataclass(frozen=True, order=True, slots=True)
class Movement:
    """One change to on_hand, kept while a later count could still need its time."""

    at: datetime
    event_id: str
    delta: int


@dataclass(frozen=True, slots=True)
class Numbers:
    on_hand: int
    allocated: int
    quarantined: int
    in_transit: int
    inbound: int
    returns_pending: int
    safety_stock: int

    @property
    def available_to_sell(self) -> int:
        return available_to_sell(self.on_hand, self.allocated, self.quarantined, self.safety_stock)

    @property
    def available_to_promise(self) -> int:
        ats = self.available_to_sell
        return available_to_promise(ats, self.in_transit, self.inbound, self.returns_pending)


@dataclass(frozen=True, slots=True)
class Position:
    """Stock of one SKU at one location. on_hand = on_hand_base + the movements kept.

    `counted` is the latest count (movements at or before it are inside `on_hand_base`);
    `folded_through` is the newest movement time folded into the base to bound the log.
    """

    sku: str
    location: str
    on_hand_base: int = 0
    movements: tuple[Movement, ...] = ()
    counted: Stamp | None = None
    folded_through: datetime | None = None
    allocated: int = 0
    quarantined: int = 0
    in_transit: int = 0
    inbound: int = 0
    inbound_stamp: Stamp | None = None
    returns_pending: int = 0
    returns_pending_stamp: Stamp | None = None
    safety_stock: int = 0
    safety_stock_stamp: Stamp | None = None
    version: int = 0
    as_of: datetime | None = None

    @property
    def on_hand(self) -> int:
        return self.on_hand_base + sum(m.delta for m in self.movements)

    def numbers(self) -> Numbers:
        return Numbers(
            self.on_hand,
            self.allocated,
            self.quarantined,
            self.in_transit,
            self.inbound,
            self.returns_pending,
            self.safety_stock,
        )


@dataclass(frozen=True, slots=True)
class Effect:
    """Deltas one event makes to the summed buckets of one position."""

    on_hand: int = 0
    allocated: int = 0
    quarantined: int = 0
    in_transit: int = 0

    def __add__(self, other: Effect) -> Effect:
        return Effect(
            self.on_hand + other.on_hand,
            self.allocated + other.allocated,
            self.quarantined + other.quarantined,
            self.in_transit + other.in_transit,
        )


@dataclass(frozen=True, slots=True)
class PositionChanged:
    position: Position


@dataclass(frozen=True, slots=True)
class VarianceDetected:
    sku: str
    location: str
    expected_on_hand: int
    counted_on_hand: int
    counted_at: datetime

    @property
    def variance(self) -> int:
        return self.counted_on_hand - self.expected_on_hand


@dataclass(frozen=True, slots=True)
class OversellAttempted:
    sku: str
    location: str
    requested: int
    available: int


DomainEvent = PositionChanged | VarianceDetected | OversellAttempted
Result = tuple[Position, list[DomainEvent]]


def apply_effect(
    pos: Position,
    effect: Effect,
    stamp: Stamp,
    *,
    item: Item | None,
    log_max: int = DEFAULT_LOG_MAX,
) -> Result:
    """Apply summed-bucket deltas; an allocation beyond available_to_sell is reported."""
    new = sync_safety_stock(pos, item)
    events: list[DomainEvent] = []
    ats = new.numbers().available_to_sell
    if effect.allocated > 0 and effect.allocated > ats:
        events.append(OversellAttempted(pos.sku, pos.location, effect.allocated, ats))
    if effect.on_hand:
        new = _move_on_hand(new, effect.on_hand, stamp, log_max)
    new = replace(
        new,
        allocated=new.allocated + effect.allocated,
        quarantined=new.quarantined + effect.quarantined,
        in_transit=new.in_transit + effect.in_transit,
    )
    return _finish(pos, new, stamp.at, events)


def _move_on_hand(pos: Position, delta: int, stamp: Stamp, log_max: int) -> Position:
    if pos.counted is not None and stamp.at <= pos.counted.at:
        return pos  # the count already saw this movement
    if pos.folded_through is not None and stamp.at <= pos.folded_through:
        return replace(pos, on_hand_base=pos.on_hand_base + delta)
    log = list(pos.movements)
    insort(log, Movement(stamp.at, stamp.event_id, delta))
    base, folded = pos.on_hand_base, pos.folded_through
    if len(log) > log_max:
        cut = len(log) - log_max
        base += sum(m.delta for m in log[:cut])
        folded = log[cut - 1].at
        log = log[cut:]
    return replace(pos, on_hand_base=base, movements=tuple(log), folded_through=folded)


def count(pos: Position, counted_qty: int, stamp: Stamp, *, item: Item | None) -> Result:
    """Set on_hand as of the count's time; later movements stay on top, earlier ones are in it.

    A count not newer than the latest one changes nothing and reports nothing.
    """
    new = sync_safety_stock(pos, item)
    if pos.counted is not None and stamp <= pos.counted:
        return _finish(pos, new, stamp.at, [])
    if pos.folded_through is not None and stamp.at < pos.folded_through:
        raise Rejected(
            f"count of {pos.sku} at {pos.location} taken {stamp.at.isoformat()} is older than "
            f"the movement history kept (folded through {pos.folded_through.isoformat()})"
        )
    expected = pos.on_hand_base + sum(m.delta for m in pos.movements if m.at <= stamp.at)
    later = tuple(m for m in pos.movements if m.at > stamp.at)
    new = replace(new, on_hand_base=counted_qty, movements=later, counted=stamp)
    variance = VarianceDetected(pos.sku, pos.location, expected, counted_qty, stamp.at)
    return _finish(pos, new, stamp.at, [variance])


def set_inbound(pos: Position, qty: int, stamp: Stamp, *, item: Item | None) -> Result:
    """Absolute inbound quantity; an older value never overwrites a newer one."""
    new = sync_safety_stock(pos, item)
    if pos.inbound_stamp is None or stamp > pos.inbound_stamp:
        new = replace(new, inbound=qty, inbound_stamp=stamp)
    return _finish(pos, new, stamp.at, [])


def set_returns_pending(pos: Position, qty: int, stamp: Stamp, *, item: Item | None) -> Result:
    """Absolute returns-pending quantity; an older value never overwrites a newer one."""
    new = sync_safety_stock(pos, item)
    if pos.returns_pending_stamp is None or stamp > pos.returns_pending_stamp:
        new = replace(new, returns_pending=qty, returns_pending_stamp=stamp)
    return _finish(pos, new, stamp.at, [])


def apply_item(pos: Position, item: Item) -> Result:
    """Take the safety stock of a newer item record."""
    at = (item.safety_stamp or item.stamp).at
    return _finish(pos, sync_safety_stock(pos, item), at, [])


def sync_safety_stock(pos: Position, item: Item | None) -> Position:
    """Safety stock follows the newest item record seen; an older one never overwrites it."""
    if item is None or (
        pos.safety_stock_stamp is not None and item.stamp <= pos.safety_stock_stamp
    ):
        return pos
    return replace(pos, safety_stock=item.safety_for(pos.location), safety_stock_stamp=item.stamp)


def _finish(before: Position, after: Position, at: datetime, events: list[DomainEvent]) -> Result:
    as_of = at if before.as_of is None else max(before.as_of, at)
    after = replace(after, as_of=as_of, version=before.version)
    if after.numbers() != before.numbers():
        after = replace(after, version=before.version + 1)
        events = [PositionChanged(after), *events]
    return after, events
