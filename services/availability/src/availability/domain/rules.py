"""What each stock event does to the positions it touches: contract §5 as pure functions.

Each rule takes the event's `data`, the item records of its SKUs, its stamp and the movement
log limits, and returns a plan: for every (sku, location) it changes, in key order, the change
to apply to that position. Quantities are converted to base units while planning, so an unknown
unit raises `UnknownUnit` before any position changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from availability.domain.items import Item, Stamp, convert, make_stamp, to_micro, update_item
from availability.domain.position import (
    Effect,
    MovementLog,
    Position,
    Result,
    apply_effect,
    apply_item,
    count,
    set_inbound,
    set_returns_pending,
)
from availability.messages import (
    InboundChanged,
    InventoryAdjusted,
    InventoryCounted,
    InventoryQuarantined,
    InventoryReleased,
    ItemUpdated,
    OrderAllocated,
    OrderDeallocated,
    ReceiptConfirmed,
    ReturnsPendingChanged,
    ReturnStockDispositioned,
    ReturnStockReceived,
    ShipmentShipped,
    TransferReceived,
    TransferShipped,
)

Items = Mapping[str, Item | None]
Change = Callable[[Position], Result]
Plan = dict[tuple[str, str], Change]
Rule = Callable[[Any, Items, Stamp, MovementLog], Plan]

# disposition -> (on_hand sign, quarantined sign): restock releases the hold, scrap and
# return_to_vendor remove the stock, refurbish keeps it held.
DISPOSITIONS: dict[str, tuple[int, int]] = {
    "restock": (0, -1),
    "refurbish": (0, 0),
    "scrap": (-1, -1),
    "return_to_vendor": (-1, -1),
}

_Effects = dict[tuple[str, str], Effect]


def _add(effects: _Effects, sku: str, location: str, effect: Effect) -> None:
    key = (sku, location)
    effects[key] = effects.get(key, Effect()) + effect


def _q(items: Items, sku: str, qty: float, uom: str | None) -> int:
    return convert(sku, qty, uom, items.get(sku))


def _buckets(effects: _Effects, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    """Each position's summed effect, applied as of `stamp`; an effect that moves nothing is
    left out."""
    return {
        key: partial(apply_effect, effect=effect, stamp=stamp, item=items.get(key[0]), log=log)
        for key, effect in sorted(effects.items())
        if effect != Effect()
    }


def inventory_adjusted(d: InventoryAdjusted, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    effect = Effect(on_hand=_q(items, d.sku, d.qty_delta, d.uom))
    return _buckets({(d.sku, d.location): effect}, items, stamp, log)


def inventory_counted(d: InventoryCounted, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    """The count sets on_hand as of its time (see `position.count`)."""
    item = items.get(d.sku)
    counted = convert(d.sku, d.counted_qty, d.uom, item)
    return {(d.sku, d.location): partial(count, counted_qty=counted, stamp=stamp, item=item)}


def inventory_quarantined(
    d: InventoryQuarantined, items: Items, stamp: Stamp, log: MovementLog
) -> Plan:
    effect = Effect(quarantined=_q(items, d.sku, d.qty, d.uom))
    return _buckets({(d.sku, d.location): effect}, items, stamp, log)


def inventory_released(d: InventoryReleased, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    effect = Effect(quarantined=-_q(items, d.sku, d.qty, d.uom))
    return _buckets({(d.sku, d.location): effect}, items, stamp, log)


def order_allocated(d: OrderAllocated, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    effects: _Effects = {}
    for ln in d.lines:
        _add(effects, ln.sku, ln.location, Effect(allocated=_q(items, ln.sku, ln.qty, ln.uom)))
    return _buckets(effects, items, stamp, log)


def order_deallocated(d: OrderDeallocated, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    effects: _Effects = {}
    for ln in d.lines:
        _add(effects, ln.sku, ln.location, Effect(allocated=-_q(items, ln.sku, ln.qty, ln.uom)))
    return _buckets(effects, items, stamp, log)


def shipment_shipped(d: ShipmentShipped, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    effects: _Effects = {}
    for ln in d.lines:
        q = _q(items, ln.sku, ln.qty, ln.uom)
        _add(effects, ln.sku, d.location, Effect(on_hand=-q, allocated=-q))
    return _buckets(effects, items, stamp, log)


def transfer_shipped(d: TransferShipped, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    effects: _Effects = {}
    for ln in d.lines:
        q = _q(items, ln.sku, ln.qty, ln.uom)
        _add(effects, ln.sku, d.from_location, Effect(on_hand=-q))
        _add(effects, ln.sku, d.to_location, Effect(in_transit=q))
    return _buckets(effects, items, stamp, log)


def transfer_received(d: TransferReceived, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    effects: _Effects = {}
    for ln in d.lines:
        q = _q(items, ln.sku, ln.qty, ln.uom)
        _add(effects, ln.sku, d.to_location, Effect(on_hand=q, in_transit=-q))
    return _buckets(effects, items, stamp, log)


def receipt_confirmed(d: ReceiptConfirmed, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    """Goods enter on_hand as of when the WMS received them (`received_at`), which orders them
    against cycle counts; a confirmation without `received_at` counts from its own time."""
    effects: _Effects = {}
    for ln in d.lines:
        accepted = _q(items, ln.sku, ln.qty_accepted, ln.uom)
        held = _q(items, ln.sku, ln.qty_quarantined, ln.uom)
        _add(effects, ln.sku, d.location, Effect(on_hand=accepted + held, quarantined=held))
    received = make_stamp(d.received_at or stamp.at, stamp.event_id)
    return _buckets(effects, items, received, log)


def return_stock_received(
    d: ReturnStockReceived, items: Items, stamp: Stamp, log: MovementLog
) -> Plan:
    q = _q(items, d.sku, d.qty, d.uom)
    return _buckets({(d.sku, d.location): Effect(on_hand=q, quarantined=q)}, items, stamp, log)


def return_stock_dispositioned(
    d: ReturnStockDispositioned, items: Items, stamp: Stamp, log: MovementLog
) -> Plan:
    q = _q(items, d.sku, d.qty, d.uom)
    on_hand, held = DISPOSITIONS[d.disposition]
    effect = Effect(on_hand=on_hand * q, quarantined=held * q)
    return _buckets({(d.sku, d.location): effect}, items, stamp, log)


def inbound_changed(d: InboundChanged, items: Items, stamp: Stamp, log: MovementLog) -> Plan:
    """An absolute quantity: the newest by event time wins (see `position.set_inbound`)."""
    change = partial(set_inbound, qty=to_micro(d.inbound_qty), stamp=stamp, item=items.get(d.sku))
    return {(d.sku, d.location): change}


def returns_pending_changed(
    d: ReturnsPendingChanged, items: Items, stamp: Stamp, log: MovementLog
) -> Plan:
    """An absolute quantity: the newest by event time wins."""
    qty = to_micro(d.pending_qty)
    change = partial(set_returns_pending, qty=qty, stamp=stamp, item=items.get(d.sku))
    return {(d.sku, d.location): change}


@dataclass(frozen=True, slots=True)
class ItemChange:
    """A newer item record, and what it changes at the positions whose safety stock moved."""

    item: Item
    plan: Plan


def item_updated(d: ItemUpdated, current: Item | None, stamp: Stamp) -> ItemChange | None:
    """The item record `d` makes, or None when nothing in it is newer than `current`."""
    result = update_item(
        current,
        sku=d.sku,
        base_uom=d.base_uom,
        conversions=d.uom_conversions,
        safety_stock=d.safety_stock,
        stamp=stamp,
    )
    if result is None:
        return None
    item, locations = result
    return ItemChange(item, {(d.sku, loc): partial(apply_item, item=item) for loc in locations})
