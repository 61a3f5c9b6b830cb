"""Which buckets each stock event moves, per (sku, location): contract §5 as pure functions.

Every function returns a plan, the summed effect per position, after converting each quantity
to base units; an unknown unit raises `UnknownUnit` before anything is applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from availability.domain import Effect
from availability.items import Item, convert
from availability.messages import (
    InventoryAdjusted,
    InventoryQuarantined,
    InventoryReleased,
    OrderAllocated,
    OrderDeallocated,
    ReceiptConfirmed,
    ReturnStockDispositioned,
    ReturnStockReceived,
    ShipmentShipped,
    TransferReceived,
    TransferShipped,
)

Plan = dict[tuple[str, str], Effect]
Items = Mapping[str, Item | None]

# disposition -> (on_hand sign, quarantined sign): restock releases the hold, scrap and
# return_to_vendor remove the stock, refurbish keeps it held.
DISPOSITIONS: dict[str, tuple[int, int]] = {
    "restock": (0, -1),
    "refurbish": (0, 0),
    "scrap": (-1, -1),
    "return_to_vendor": (-1, -1),
}


def _add(plan: Plan, sku: str, location: str, effect: Effect) -> None:
    key = (sku, location)
    plan[key] = plan.get(key, Effect()) + effect


def _q(items: Items, sku: str, qty: float, uom: str | None) -> int:
    return convert(sku, qty, uom, items.get(sku))


def inventory_adjusted(d: InventoryAdjusted, items: Items) -> Plan:
    return {(d.sku, d.location): Effect(on_hand=_q(items, d.sku, d.qty_delta, d.uom))}


def inventory_quarantined(d: InventoryQuarantined, items: Items) -> Plan:
    return {(d.sku, d.location): Effect(quarantined=_q(items, d.sku, d.qty, d.uom))}


def inventory_released(d: InventoryReleased, items: Items) -> Plan:
    return {(d.sku, d.location): Effect(quarantined=-_q(items, d.sku, d.qty, d.uom))}


def order_allocated(d: OrderAllocated, items: Items) -> Plan:
    plan: Plan = {}
    for ln in d.lines:
        _add(plan, ln.sku, ln.location, Effect(allocated=_q(items, ln.sku, ln.qty, ln.uom)))
    return plan


def order_deallocated(d: OrderDeallocated, items: Items) -> Plan:
    plan: Plan = {}
    for ln in d.lines:
        _add(plan, ln.sku, ln.location, Effect(allocated=-_q(items, ln.sku, ln.qty, ln.uom)))
    return plan


def shipment_shipped(d: ShipmentShipped, items: Items) -> Plan:
    plan: Plan = {}
    for ln in d.lines:
        q = _q(items, ln.sku, ln.qty, ln.uom)
        _add(plan, ln.sku, d.location, Effect(on_hand=-q, allocated=-q))
    return plan


def transfer_shipped(d: TransferShipped, items: Items) -> Plan:
    plan: Plan = {}
    for ln in d.lines:
        q = _q(items, ln.sku, ln.qty, ln.uom)
        _add(plan, ln.sku, d.from_location, Effect(on_hand=-q))
        _add(plan, ln.sku, d.to_location, Effect(in_transit=q))
    return plan


def transfer_received(d: TransferReceived, items: Items) -> Plan:
    plan: Plan = {}
    for ln in d.lines:
        q = _q(items, ln.sku, ln.qty, ln.uom)
        _add(plan, ln.sku, d.to_location, Effect(on_hand=q, in_transit=-q))
    return plan


def receipt_confirmed(d: ReceiptConfirmed, items: Items) -> Plan:
    plan: Plan = {}
    for ln in d.lines:
        accepted = _q(items, ln.sku, ln.qty_accepted, ln.uom)
        held = _q(items, ln.sku, ln.qty_quarantined, ln.uom)
        _add(plan, ln.sku, d.location, Effect(on_hand=accepted + held, quarantined=held))
    return plan


def receipt_time(d: ReceiptConfirmed, confirmed_at: datetime) -> datetime:
    """Goods enter on_hand when the WMS received them, which orders them against cycle counts;
    a confirmation without `received_at` (an older publisher) falls back to its own time."""
    return d.received_at or confirmed_at


def return_stock_received(d: ReturnStockReceived, items: Items) -> Plan:
    q = _q(items, d.sku, d.qty, d.uom)
    return {(d.sku, d.location): Effect(on_hand=q, quarantined=q)}


def return_stock_dispositioned(d: ReturnStockDispositioned, items: Items) -> Plan:
    q = _q(items, d.sku, d.qty, d.uom)
    on_hand, held = DISPOSITIONS[d.disposition]
    return {(d.sku, d.location): Effect(on_hand=on_hand * q, quarantined=held * q)}
