"""Item master and quantities (pure): millionths of the base unit, unit conversion, and the
event-time stamps that decide which of two values is newer.

Quantities are integers in millionths of the base unit (`micro`), so that sums are exact and
therefore independent of the order they are added in; floats exist only at the edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal

from shared.errors import DeferredRejection

MICRO = 1_000_000
_CTX = Context(prec=60, rounding=ROUND_HALF_EVEN)


def to_micro(qty: float, factor: float = 1.0) -> int:
    """`qty` (times `factor`) in millionths, computed in decimal so one input gives one answer."""
    d = _CTX.multiply(_CTX.multiply(Decimal(repr(qty)), Decimal(repr(factor))), Decimal(MICRO))
    return int(d.to_integral_value(rounding=ROUND_HALF_EVEN))


def to_units(micro: int) -> float:
    return micro / MICRO


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


class UnknownUnit(DeferredRejection):
    """A quantity in a unit the item record does not define (yet): the `item.updated` that
    defines it may still be in another replica's hands, so the runtime retries before the DLQ."""


def conversion_factor(uom: str | None, item: Item | None) -> float | None:
    """Base units per `uom`; no uom means the base unit; None when the conversion is unknown."""
    if uom is None:
        return 1.0
    return item.factor(uom) if item is not None else None


def convert(sku: str, qty: float, uom: str | None, item: Item | None) -> int:
    """`qty` in `uom` as micro base units; an unknown unit is refused, never guessed."""
    factor = conversion_factor(uom, item)
    if factor is None:
        raise UnknownUnit(
            f"unknown unit of measure: no conversion from {uom} to base unit for {sku}; "
            "publish item.updated then replay"
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
