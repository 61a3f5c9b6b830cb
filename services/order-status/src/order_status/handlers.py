"""Load the order -> record the fact (domain) -> save, emit `order.status_changed`, count."""

from __future__ import annotations

from typing import Any

from order_status import domain, metrics, store
from order_status import messages as m
from order_status.mappings import Tables, load_tables
from order_status.views import Fact
from shared.service import Incoming
from shared.uow import UnitOfWork

STATUS_CHANGED = "order.status_changed"


def tables_for(uow: UnitOfWork) -> Tables:
    """Default mapping tables merged with the configured override file, if any."""
    return load_tables(getattr(uow.settings, "order_status_mapping_file", None))


def to_fact(msg: Incoming[Any]) -> Fact:
    return Fact(
        id=msg.id,
        type=msg.envelope.type,
        time=msg.time,
        received_at=msg.received_at,
        source=msg.envelope.source,
        data=msg.data.model_dump(mode="json", exclude_none=True),
    )


async def record(uow: UnitOfWork, order_id: str, facts: list[Fact], msg: Incoming[Any]) -> None:
    """Record facts on one order, save it, and announce and measure what changed."""
    doc = await uow.get(store.ORDERS, order_id)
    before = store.order_from_doc(doc) if doc is not None else None
    tables = tables_for(uow)
    order, changes = domain.record(before, order_id, facts, tables)
    if order is before:
        return
    order, latencies = domain.due_latencies(order)
    before = domain.folded(before, tables)
    units = domain.new_units(before, order)
    resolved = domain.resolved_exceptions(before, changes)
    uow.put(store.ORDERS, order_id, store.order_to_doc(order, updated_at=msg.received_at))
    for c in changes:
        data = m.OrderStatusChanged(**c.model_dump()).to_data()
        corr = msg.envelope.correlationid or order_id
        uow.emit(STATUS_CHANGED, data, key=order_id, time=c.at, correlationid=corr)
    old = {f.id for f in before.facts} if before is not None else set()
    timeline = order.view.timeline if order.view is not None else ()
    unmapped = [e.mapping or "unknown" for e in timeline if e.unmapped and e.event_id not in old]
    uow.on_commit(lambda: metrics.observe(changes, latencies, unmapped, resolved, units))


async def _remember(uow: UnitOfWork, key: str, order_id: str) -> None:
    """Index a shipment id or tracking number to its order, for scans that carry neither."""
    if await uow.get(store.REFS, key) is None:
        uow.put(store.REFS, key, {"order_id": order_id})


async def _parked(uow: UnitOfWork, tracking_number: str) -> list[Fact]:
    """Take the tracking updates that arrived before their shipment could be matched."""
    key = f"tracking:{tracking_number}"
    doc = await uow.get(store.PENDING, key)
    if not doc or not doc.get("facts"):
        return []
    uow.put(store.PENDING, key, {"facts": []})
    return [store.fact_from_doc(f) for f in doc["facts"]]


async def handle_order_event(msg: Incoming[Any], uow: UnitOfWork) -> None:
    """order.created/allocated/deallocated/backordered/cancelled/status_reported, pick.completed."""
    await record(uow, msg.data.order_id, [to_fact(msg)], msg)


handle_order_created = handle_order_event
handle_order_allocated = handle_order_event
handle_order_deallocated = handle_order_event
handle_order_backordered = handle_order_event
handle_order_cancelled = handle_order_event
handle_order_status_reported = handle_order_event
handle_pick_completed = handle_order_event
handle_return_status_changed = handle_order_event


async def handle_pack_completed(msg: Incoming[m.PackCompleted], uow: UnitOfWork) -> None:
    await _remember(uow, f"shipment:{msg.data.shipment_id}", msg.data.order_id)
    await record(uow, msg.data.order_id, [to_fact(msg)], msg)


async def handle_shipment_shipped(msg: Incoming[m.ShipmentShipped], uow: UnitOfWork) -> None:
    d = msg.data
    await _remember(uow, f"shipment:{d.shipment_id}", d.order_id)
    await _remember(uow, f"tracking:{d.tracking_number}", d.order_id)
    parked = await _parked(uow, d.tracking_number)
    await record(uow, d.order_id, [to_fact(msg), *parked], msg)


async def handle_shipment_tracking_updated(
    msg: Incoming[m.ShipmentTrackingUpdated], uow: UnitOfWork
) -> None:
    """A scan without an order id is matched by shipment id or tracking number, else parked."""
    d = msg.data
    order_id = d.order_id
    for key in (
        f"shipment:{d.shipment_id}" if d.shipment_id else None,
        f"tracking:{d.tracking_number}",
    ):
        if order_id is None and key is not None:
            ref = await uow.get(store.REFS, key)
            order_id = ref["order_id"] if ref else None
    if order_id is None:
        key = f"tracking:{d.tracking_number}"
        doc = await uow.get(store.PENDING, key) or {"facts": []}
        if all(f["id"] != msg.id for f in doc["facts"]):
            doc["facts"].append(store.fact_to_doc(to_fact(msg)))
        uow.put(store.PENDING, key, {"facts": doc["facts"]})
        return
    await _remember(uow, f"tracking:{d.tracking_number}", order_id)
    await record(uow, order_id, [to_fact(msg)], msg)


# What each handler will `uow.get`, so the runtime reads a whole batch's documents at once.
def preload_order(data: Any) -> list[tuple[str, str]]:
    return [(store.ORDERS, data.order_id)]


def preload_pack(data: m.PackCompleted) -> list[tuple[str, str]]:
    return [(store.ORDERS, data.order_id), (store.REFS, f"shipment:{data.shipment_id}")]


def preload_shipment(data: m.ShipmentShipped) -> list[tuple[str, str]]:
    tracking = f"tracking:{data.tracking_number}"
    return [
        (store.ORDERS, data.order_id),
        (store.REFS, f"shipment:{data.shipment_id}"),
        (store.REFS, tracking),
        (store.PENDING, tracking),
    ]


def preload_tracking(data: m.ShipmentTrackingUpdated) -> list[tuple[str, str]]:
    tracking = f"tracking:{data.tracking_number}"
    keys = [(store.REFS, tracking), (store.PENDING, tracking)]
    if data.shipment_id:
        keys.append((store.REFS, f"shipment:{data.shipment_id}"))
    if data.order_id:
        keys.append((store.ORDERS, data.order_id))
    return keys
