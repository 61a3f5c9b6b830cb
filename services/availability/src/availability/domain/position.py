"""One stock position per (sku, location): its buckets, its on-hand log and counts (pure).

State types are frozen slotted dataclasses rather than pydantic models: they are rebuilt for
every event and never validated from outside (store.py converts documents). Quantities are
integers in millionths of the base unit (see items.py).
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from availability.domain.items import Item, Stamp
from shared.errors import Rejected

DEFAULT_LOG_MAX = 200
DEFAULT_LOG_WINDOW = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class MovementLog:
    """How much on-hand history a position keeps since its latest count: at most `max_len`
    movements, none older than `window` before its newest one. Older movements are folded into
    the base, so a position that is never counted does not carry a long log on every write."""

    max_len: int = DEFAULT_LOG_MAX
    window: timedelta = DEFAULT_LOG_WINDOW


def available_to_sell(on_hand: int, allocated: int, quarantined: int, safety_stock: int) -> int:
    return max(0, on_hand - allocated - quarantined - safety_stock)


def available_to_promise(ats: int, in_transit: int, inbound: int, returns_pending: int) -> int:
    return ats + in_transit + inbound + returns_pending


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
    log: MovementLog = MovementLog(),
) -> Result:
    """Apply summed-bucket deltas; an allocation beyond available_to_sell is reported. The
    changed fields are collected first and the position is built once."""
    new = sync_safety_stock(pos, item)
    events: list[DomainEvent] = []
    if effect.allocated > 0:
        ats = available_to_sell(new.on_hand, new.allocated, new.quarantined, new.safety_stock)
        if effect.allocated > ats:
            events.append(OversellAttempted(pos.sku, pos.location, effect.allocated, ats))
    changes = _move_on_hand(new, effect.on_hand, stamp, log)
    if effect.allocated:
        changes["allocated"] = new.allocated + effect.allocated
    if effect.quarantined:
        changes["quarantined"] = new.quarantined + effect.quarantined
    if effect.in_transit:
        changes["in_transit"] = new.in_transit + effect.in_transit
    return _finish(pos, new, stamp.at, events, changes)


def _move_on_hand(pos: Position, delta: int, stamp: Stamp, log: MovementLog) -> dict[str, Any]:
    """The fields an on-hand movement changes. It joins the log, in time order; movements
    beyond `log.max_len`, or older than `log.window` before the newest one, are folded into
    the base: a count can be placed after them only (one older than the folded history is
    rejected)."""
    if not delta:
        return {}
    if pos.counted is not None and stamp.at <= pos.counted.at:
        return {}  # the count already saw this movement
    if pos.folded_through is not None and stamp.at <= pos.folded_through:
        return {"on_hand_base": pos.on_hand_base + delta}
    kept = list(pos.movements)
    insort(kept, Movement(stamp.at, stamp.event_id, delta))
    base, folded = pos.on_hand_base, pos.folded_through
    cut = max(0, len(kept) - log.max_len)
    oldest_kept = kept[-1].at - log.window
    while cut < len(kept) and kept[cut].at < oldest_kept:
        cut += 1
    if cut:
        base += sum(m.delta for m in kept[:cut])
        folded = kept[cut - 1].at
        kept = kept[cut:]
    return {"on_hand_base": base, "movements": tuple(kept), "folded_through": folded}


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
    """Safety stock follows the newest safety-stock map seen; an older one never overwrites it."""
    stamp = item.safety_stamp if item is not None else None
    if item is None or stamp is None:
        return pos
    if pos.safety_stock_stamp is not None and stamp <= pos.safety_stock_stamp:
        return pos
    return replace(pos, safety_stock=item.safety_for(pos.location), safety_stock_stamp=stamp)


# the numbers other than on_hand (which is derived from the base and the log)
_BUCKETS = tuple(f.name for f in fields(Numbers) if f.name != "on_hand")


def _finish(
    before: Position,
    after: Position,
    at: datetime,
    events: list[DomainEvent],
    changes: dict[str, Any] | None = None,
) -> Result:
    """`after` with `changes` applied, `as_of` moved on to `at` and the version raised when a
    number changed (and then a PositionChanged first among the events)."""
    changes = changes or {}
    as_of = at if before.as_of is None else max(before.as_of, at)
    on_hand = changes.get("on_hand_base", after.on_hand_base) + sum(
        m.delta for m in changes.get("movements", after.movements)
    )
    moved = on_hand != before.on_hand or any(
        changes.get(f, getattr(after, f)) != getattr(before, f) for f in _BUCKETS
    )
    version = before.version + 1 if moved else before.version
    after = replace(after, as_of=as_of, version=version, **changes)
    if moved:
        events = [PositionChanged(after), *events]
    return after, events
