"""Can these order lines be promised now? Pure: positions and items in, one answer per line.

Lines are answered in order and each promised line takes its quantity from the location it is
promised from, so the answer holds for the order as a whole (two lines of the same SKU do not
both count on the same units). A line without a location is promised from the location with
the most available_to_sell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from availability.domain.items import Item, conversion_factor, to_micro, to_units
from availability.domain.position import Position


@dataclass(frozen=True, slots=True)
class LineRequest:
    sku: str
    qty: float
    uom: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class LineAnswer:
    promisable: bool
    qty_base: int | None  # micro base units; None when the unit is unknown
    location: str | None  # where it is promised from, or the best candidate when it is not
    available_to_sell: int | None  # at `location`, before this line
    reason: str | None = None


def check(
    lines: Iterable[LineRequest], positions: Iterable[Position], items: Mapping[str, Item]
) -> list[LineAnswer]:
    remaining: dict[tuple[str, str], int] = {}
    known: set[str] = set(items)
    for p in positions:
        remaining[(p.sku, p.location)] = p.numbers().available_to_sell
        known.add(p.sku)
    return [_answer(line, remaining, known, items) for line in lines]


def _answer(
    line: LineRequest,
    remaining: dict[tuple[str, str], int],
    known: set[str],
    items: Mapping[str, Item],
) -> LineAnswer:
    if line.sku not in known:
        return LineAnswer(False, None, line.location, None, f"unknown SKU {line.sku}")
    factor = conversion_factor(line.uom, items.get(line.sku))
    if factor is None:
        reason = f"no conversion from {line.uom} to base unit for {line.sku}"
        return LineAnswer(False, None, line.location, None, reason)
    qty = to_micro(line.qty, factor)
    if line.location is not None:
        candidates = [line.location]
    else:
        candidates = [loc for sku, loc in remaining if sku == line.sku]
        candidates.sort(key=lambda loc: (-remaining[(line.sku, loc)], loc))
    if not candidates:
        return LineAnswer(False, qty, None, None, f"no stock position for {line.sku}")
    loc = candidates[0]
    key = (line.sku, loc)
    if key not in remaining:
        reason = f"no stock position for {line.sku} at {loc}"
        return LineAnswer(False, qty, loc, None, reason)
    ats = remaining[key]
    if ats < qty:
        reason = f"only {to_units(ats):.15g} available to sell at {loc}"
        return LineAnswer(False, qty, loc, ats, reason)
    remaining[key] = ats - qty
    return LineAnswer(True, qty, loc, ats, None)
