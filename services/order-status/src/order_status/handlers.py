"""Load the order -> record the facts (one domain call) -> save, emit `order.status_changed`."""

from __future__ import annotations

from typing import Any

from order_status import messages as m
from order_status import metrics, store
from order_status.domain import order, parking
from order_status.domain.views import Fact
from order_status.settings import settings_of
from shared.service import Incoming
from shared.uow import UnitOfWork

STATUS_CHANGED = "order.status_changed"


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
    tables = settings_of(uow.settings).status_tables()
    out = order.record_facts(before, order_id, facts, tables)
    if out is None:
        return
    uow.put(store.ORDERS, order_id, store.order_to_doc(out.order, updated_at=msg.received_at))
    for c in out.changes:
        data = m.OrderStatusChanged(**c.model_dump()).to_data()
        corr = msg.envelope.correlationid or order_id
        uow.emit(STATUS_CHANGED, data, key=order_id, time=c.at, correlationid=corr)
    uow.on_commit(
        lambda: metrics.observe(out.changes, out.latencies, out.unmapped, out.resolved, out.units)
    )


async def _remember(uow: UnitOfWork, key: str, order_id: str) -> None:
    """Index a shipment id or tracking number to its order, for updates that carry neither."""
    if await uow.get(store.REFS, key) is None:
        uow.put(store.REFS, key, {"order_id": order_id})


async def _ref(uow: UnitOfWork, key: str | None) -> str | None:
    ref = await uow.get(store.REFS, key) if key is not None else None
    return str(ref["order_id"]) if ref else None


async def handle_order_event(msg: Incoming[Any], uow: UnitOfWork) -> None:
    """order.created/allocated/deallocated/backordered/cancelled/status_reported, pick.completed,
    return.status_changed: one fact on the order the event names."""
    await record(uow, msg.data.order_id, [to_fact(msg)], msg)


async def handle_pack_completed(msg: Incoming[m.PackCompleted], uow: UnitOfWork) -> None:
    await _remember(uow, store.shipment_key(msg.data.shipment_id), msg.data.order_id)
    await record(uow, msg.data.order_id, [to_fact(msg)], msg)


async def handle_shipment_shipped(msg: Incoming[m.ShipmentShipped], uow: UnitOfWork) -> None:
    """The shipment, with the tracking updates parked under its tracking number.

    The parking document is written even when nothing is parked. A tracking update for this
    number may be in another transaction at the same moment (another replica: it is partitioned
    by tracking number, this by order), finding no reference and parking itself. Each would
    read what the other writes (the reference, the parking document) without writing what the
    other writes: under snapshot isolation both commit and the update stays parked for good.
    Writing the parking document on both sides makes them conflict, so one is redone and sees
    the other."""
    d = msg.data
    tracking = store.tracking_key(d.tracking_number)
    await _remember(uow, store.shipment_key(d.shipment_id), d.order_id)
    await _remember(uow, tracking, d.order_id)
    parked = store.parked_from_doc(await uow.get(store.PENDING, tracking))
    uow.put(store.PENDING, tracking, store.parked_to_doc((), claimed_by=msg.id))
    await record(uow, d.order_id, [to_fact(msg), *parked], msg)


async def handle_shipment_tracking_updated(
    msg: Incoming[m.ShipmentTrackingUpdated], uow: UnitOfWork
) -> None:
    """On the order it belongs to (`parking.order_for`), or parked until that is known."""
    d = msg.data
    tracking = store.tracking_key(d.tracking_number)
    by_shipment = await _ref(uow, store.shipment_key(d.shipment_id) if d.shipment_id else None)
    order_id = parking.order_for(d.order_id, by_shipment, await _ref(uow, tracking))
    if order_id is None:
        parked = store.parked_from_doc(await uow.get(store.PENDING, tracking))
        uow.put(store.PENDING, tracking, store.parked_to_doc(parking.park(parked, to_fact(msg))))
        return
    await _remember(uow, tracking, order_id)
    await record(uow, order_id, [to_fact(msg)], msg)


# What each handler will `uow.get`, so the runtime reads a whole batch's documents at once.
def preload_order(data: Any) -> list[tuple[str, str]]:
    return [(store.ORDERS, data.order_id)]


def preload_pack(data: m.PackCompleted) -> list[tuple[str, str]]:
    return [(store.ORDERS, data.order_id), (store.REFS, store.shipment_key(data.shipment_id))]


def preload_shipment(data: m.ShipmentShipped) -> list[tuple[str, str]]:
    tracking = store.tracking_key(data.tracking_number)
    return [
        (store.ORDERS, data.order_id),
        (store.REFS, store.shipment_key(data.shipment_id)),
        (store.REFS, tracking),
        (store.PENDING, tracking),
    ]


def preload_tracking(data: m.ShipmentTrackingUpdated) -> list[tuple[str, str]]:
    tracking = store.tracking_key(data.tracking_number)
    keys = [(store.REFS, tracking), (store.PENDING, tracking)]
    if data.shipment_id:
        keys.append((store.REFS, store.shipment_key(data.shipment_id)))
    if data.order_id:
        keys.append((store.ORDERS, data.order_id))
    return keys
