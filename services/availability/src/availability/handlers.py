"""Message handlers: load items and positions, make the event's one domain call, save, emit."""

from __future__ import annotations

from functools import partial
from typing import Any

import structlog

from availability import metrics, store
from availability.domain import rules
from availability.domain.items import Item, Stamp, make_stamp, to_units
from availability.domain.position import (
    DomainEvent,
    OversellAttempted,
    Position,
    PositionChanged,
    VarianceDetected,
)
from availability.messages import (
    AvailabilityChanged,
    AvailabilityVarianceDetected,
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
from availability.settings import settings_of
from shared.service import Incoming
from shared.uow import UnitOfWork

log = structlog.get_logger("availability.handlers")


def _stamp(msg: Incoming[Any]) -> Stamp:
    return make_stamp(msg.time, msg.id)


def _observe_lag(msg: Incoming[Any], uow: UnitOfWork) -> None:
    lag = max(0.0, (msg.received_at - msg.time).total_seconds())
    uow.on_commit(lambda: metrics.EVENT_LAG.labels(msg.envelope.type).observe(lag))


async def _load_items(uow: UnitOfWork, skus: set[str]) -> dict[str, Item | None]:
    return {
        sku: store.item_from_doc(await uow.get(store.ITEMS, sku, copy=False))
        for sku in sorted(skus)
    }


async def _touch(
    uow: UnitOfWork, msg: Incoming[Any], sku: str, location: str, change: rules.Change
) -> None:
    """Load one position, apply `change`, save it if anything changed, emit what it reported."""
    key = store.position_key(sku, location)
    doc = await uow.get(store.POSITIONS, key, copy=False)  # read only: it becomes a Position
    before = store.position_from_doc(doc) if doc is not None else Position(sku, location)
    after, events = change(before)
    public = store.public_fields(after)  # the stored numbers and the event's are the same
    if after != before:
        if doc is None:
            await _register_location(uow, location)
        uow.put(store.POSITIONS, key, store.position_to_doc(after, public))
    for ev in events:
        _dispatch(uow, msg, key, ev, public)


async def _register_location(uow: UnitOfWork, location: str) -> None:
    """A position is created: its location joins the list the API reads positions by."""
    if await uow.get(store.LOCATIONS, location, copy=False) is None:
        uow.put(store.LOCATIONS, location, store.location_doc(location))


def _dispatch(
    uow: UnitOfWork, msg: Incoming[Any], key: str, ev: DomainEvent, public: dict[str, Any]
) -> None:
    """Emit what the domain reported; `public` holds the position's numbers after the event."""
    event_type = msg.envelope.type
    match ev:
        case PositionChanged():
            uow.emit("availability.changed", AvailabilityChanged(**public), key=key)
            uow.on_commit(lambda: metrics.POSITIONS_CHANGED.labels(event_type).inc())
        case VarianceDetected():
            variance = to_units(ev.variance)
            data = AvailabilityVarianceDetected(
                sku=ev.sku,
                location=ev.location,
                expected_on_hand=to_units(ev.expected_on_hand),
                counted_on_hand=to_units(ev.counted_on_hand),
                variance=variance,
                counted_at=ev.counted_at,
            )
            uow.emit("availability.variance_detected", data, key=key)
            uow.on_commit(partial(_variance_committed, ev.sku, ev.location, variance))
        case OversellAttempted():
            over = to_units(ev.requested - ev.available)
            uow.on_commit(partial(_oversell_committed, ev.sku, ev.location, over))


def _variance_committed(sku: str, location: str, variance: float) -> None:
    metrics.COUNT_VARIANCE.labels(location).observe(abs(variance))
    log.info("count_variance", sku=sku, location=location, variance=variance)


def _oversell_committed(sku: str, location: str, over: float) -> None:
    metrics.OVERSELL_ATTEMPTS.labels(location).inc()
    metrics.OVERSELL_UNITS.labels(location).inc(over)
    log.warning("oversell_attempt", sku=sku, location=location, beyond_available=over)


_LOCATION_FIELDS = ("location", "from_location", "to_location")
_SHAPES: dict[type, tuple[bool, tuple[str, ...]]] = {}


def _shape(data: Any) -> tuple[bool, tuple[str, ...]]:
    """Whether a message model has `lines`, and which location fields it has (looked up once
    per model: asking a pydantic model for a field it lacks raises, which is slow)."""
    t = type(data)
    shape = _SHAPES.get(t)
    if shape is None:
        names = _field_names(data)
        shape = _SHAPES[t] = ("lines" in names, tuple(f for f in _LOCATION_FIELDS if f in names))
    return shape


def _skus(data: Any) -> set[str]:
    return {ln.sku for ln in data.lines} if _shape(data)[0] else {data.sku}


def preload_keys(data: Any) -> list[tuple[str, str]]:
    """The documents a handler will read, so the runtime can fetch a whole batch's at once:
    the items of its SKUs, the positions it may touch and their locations' entries (read only
    when a position is created, but then in the same batch query as the others)."""
    has_lines, location_fields = _shape(data)
    if isinstance(data, ItemUpdated):
        locations = sorted(set(data.safety_stock or ()))
    else:
        locations = sorted({v for f in location_fields if isinstance(v := getattr(data, f), str)})
    if not has_lines:  # one SKU: most inventory events
        sku = data.sku
        keys = [(store.ITEMS, sku)]
        keys += [(store.POSITIONS, store.position_key(sku, loc)) for loc in locations]
        keys += [(store.LOCATIONS, loc) for loc in locations]
        return keys
    skus = {ln.sku for ln in data.lines}
    pairs = {(sku, loc) for sku in skus for loc in locations}
    pairs |= {(ln.sku, ln.location) for ln in data.lines if "location" in _field_names(ln)}
    keys = [(store.ITEMS, sku) for sku in sorted(skus)]
    keys += [(store.POSITIONS, store.position_key(s, loc)) for s, loc in sorted(pairs)]
    keys += [(store.LOCATIONS, loc) for loc in sorted({loc for _, loc in pairs})]
    return keys


def _field_names(obj: Any) -> Any:
    return getattr(type(obj), "model_fields", None) or vars(obj)


async def _apply(msg: Incoming[Any], uow: UnitOfWork, rule: rules.Rule) -> None:
    """Load the items of the event's SKUs, plan its changes (the domain call), apply each."""
    _observe_lag(msg, uow)
    items = await _load_items(uow, _skus(msg.data))
    plan = rule(msg.data, items, _stamp(msg), settings_of(uow.settings).movement_log())
    await _apply_plan(uow, msg, plan)


async def _apply_plan(uow: UnitOfWork, msg: Incoming[Any], plan: rules.Plan) -> None:
    for (sku, location), change in plan.items():
        await _touch(uow, msg, sku, location, change)


async def handle_item_updated(msg: Incoming[ItemUpdated], uow: UnitOfWork) -> None:
    _observe_lag(msg, uow)
    d = msg.data
    current = store.item_from_doc(await uow.get(store.ITEMS, d.sku))
    change = rules.item_updated(d, current, _stamp(msg))
    if change is None:
        log.info("item_update_older_ignored", sku=d.sku)
        return
    uow.put(store.ITEMS, d.sku, store.item_to_doc(change.item))
    await _apply_plan(uow, msg, change.plan)


async def handle_inventory_adjusted(msg: Incoming[InventoryAdjusted], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.inventory_adjusted)


async def handle_inventory_counted(msg: Incoming[InventoryCounted], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.inventory_counted)


async def handle_inventory_quarantined(
    msg: Incoming[InventoryQuarantined], uow: UnitOfWork
) -> None:
    await _apply(msg, uow, rules.inventory_quarantined)


async def handle_inventory_released(msg: Incoming[InventoryReleased], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.inventory_released)


async def handle_order_allocated(msg: Incoming[OrderAllocated], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.order_allocated)


async def handle_order_deallocated(msg: Incoming[OrderDeallocated], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.order_deallocated)


async def handle_shipment_shipped(msg: Incoming[ShipmentShipped], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.shipment_shipped)


async def handle_transfer_shipped(msg: Incoming[TransferShipped], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.transfer_shipped)


async def handle_transfer_received(msg: Incoming[TransferReceived], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.transfer_received)


async def handle_receipt_confirmed(msg: Incoming[ReceiptConfirmed], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.receipt_confirmed)


async def handle_return_stock_received(msg: Incoming[ReturnStockReceived], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.return_stock_received)


async def handle_return_stock_dispositioned(
    msg: Incoming[ReturnStockDispositioned], uow: UnitOfWork
) -> None:
    await _apply(msg, uow, rules.return_stock_dispositioned)


async def handle_inbound_changed(msg: Incoming[InboundChanged], uow: UnitOfWork) -> None:
    await _apply(msg, uow, rules.inbound_changed)


async def handle_returns_pending_changed(
    msg: Incoming[ReturnsPendingChanged], uow: UnitOfWork
) -> None:
    await _apply(msg, uow, rules.returns_pending_changed)
