"""Message handlers: load by key -> one domain call -> save + emit, in the batch's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from receipt import metrics, store
from receipt.domain import inbound, lifecycle
from receipt.domain.lifecycle import Outcome
from receipt.domain.purchase_order import PurchaseOrder, apply_item_update
from receipt.messages import (
    AsnReceived,
    ItemUpdated,
    PurchaseOrderCancelled,
    PurchaseOrderReleased,
    PurchaseOrderStatusChanged,
    ReceiptConfirmed,
    ReceiptException,
    ReceiptRecorded,
)
from receipt.settings import settings_of
from shared.logging import get_logger
from shared.service import Incoming
from shared.uow import UnitOfWork

log = get_logger("receipt.handlers")


def _now() -> datetime:
    return datetime.now(UTC)


async def handle_item_updated(msg: Incoming[ItemUpdated], uow: UnitOfWork) -> None:
    current = store.item_from_doc(await uow.get(store.ITEMS, msg.data.sku))
    item = apply_item_update(current, msg.data, msg.time)
    if item is None:
        log.info("item_update_ignored_older", sku=msg.data.sku)
        return
    uow.put(store.ITEMS, item.sku, store.to_doc(item))


async def handle_purchase_order_released(
    msg: Incoming[PurchaseOrderReleased], uow: UnitOfWork
) -> None:
    before = await store.load_po(uow, msg.data.po_id)
    items = await store.load_items(uow, (ln.sku for ln in msg.data.lines if ln.uom))
    tolerance = settings_of(uow.settings).receipt_default_tolerance_pct
    po, out = lifecycle.release(before, msg.data, msg.time, items, tolerance)
    if out.ignored:
        log.info("purchase_order_release_ignored_older", po_id=msg.data.po_id)
        return
    await _save(uow, before, po, out)


async def handle_purchase_order_cancelled(
    msg: Incoming[PurchaseOrderCancelled], uow: UnitOfWork
) -> None:
    before = await store.load_po(uow, msg.data.po_id)
    po, out = lifecycle.cancel(before, msg.data, msg.time)
    if out.ignored:
        log.info("purchase_order_already_cancelled", po_id=msg.data.po_id)
        return
    await _save(uow, before, po, out)


async def handle_asn_received(msg: Incoming[AsnReceived], uow: UnitOfWork) -> None:
    before = await store.load_po(uow, msg.data.po_id)
    items = await store.load_items(uow, (ln.sku for ln in msg.data.lines if ln.uom))
    po, out = lifecycle.record_asn(before, msg.data, msg.time, items)
    if out.ignored:
        log.info("asn_ignored_older", asn_id=msg.data.asn_id, po_id=msg.data.po_id)
        return
    await _save(uow, before, po, out)


async def handle_receipt_recorded(msg: Incoming[ReceiptRecorded], uow: UnitOfWork) -> None:
    data = msg.data
    seen = await uow.get(store.RECEIPTS, data.receipt_id)
    if seen is not None:
        uow.put(store.RECEIPTS, data.receipt_id, store.with_duplicate(seen, msg.id, _now()))
        uow.on_commit(partial(metrics.receipt_processed, "duplicate"))
        log.info("receipt_duplicate_ignored", receipt_id=data.receipt_id, first=seen["event_id"])
        return
    items = await store.load_items(uow, (ln.sku for ln in data.lines if ln.uom))
    before = await store.load_po(uow, data.po_id) if data.po_id else None
    receipt, po, out = lifecycle.record_receipt(before, data, msg.time, items)
    outcome = out.receipt_outcome()
    uow.put(store.RECEIPTS, data.receipt_id, store.receipt_doc(receipt, msg.id, outcome))
    if out.held:
        uow.on_commit(partial(metrics.receipt_processed, "held"))
        log.info("receipt_held_until_po_release", receipt_id=data.receipt_id, po_id=data.po_id)
    await _save(uow, before, po, out)


async def _save(
    uow: UnitOfWork, before: PurchaseOrder | None, po: PurchaseOrder | None, out: Outcome
) -> None:
    """Persist the PO, its inbound summaries and exceptions; publish what the outcome says."""
    if po is not None:
        uow.put(store.PURCHASE_ORDERS, po.po_id, store.to_doc(po))
        await _update_inbound(uow, before, po)
    for res in out.results:
        confirmed = ReceiptConfirmed(
            receipt_id=res.receipt_id,
            po_id=res.po_id,
            location=res.location,
            lines=res.confirmed_lines(),
            received_at=res.at,
        )
        uow.emit("receipt.confirmed", confirmed, key=res.receipt_id)
        uow.on_commit(partial(metrics.receipt_processed, res.outcome))
        if res.asn_lateness_s is not None:
            uow.on_commit(partial(metrics.asn_to_receipt, res.asn_lateness_s))
    for exc in out.all_exceptions():
        uow.put(store.EXCEPTIONS, exc.id, store.exception_doc(exc))
        event = ReceiptException(
            receipt_id=exc.receipt_id,
            po_id=exc.po_id,
            sku=exc.sku,
            kind=exc.kind,
            qty=exc.qty,
            detail=exc.detail,
        )
        uow.emit("receipt.exception", event, key=exc.po_id or exc.receipt_id)
        uow.on_commit(partial(metrics.exception_raised, exc.kind))
    for move in out.moves:
        type_, data = move.event()
        uow.emit(type_, data, key=po.po_id if po is not None else move.sku)
        log.info("receipt_rechecked", sku=move.sku, location=move.location, qty=move.qty)
    if po is not None and out.status is not None:
        changed = PurchaseOrderStatusChanged(po_id=po.po_id, status=out.status)
        uow.emit("purchase_order.status_changed", changed, key=po.po_id)
        log.info("purchase_order_status_changed", po_id=po.po_id, status=out.status)


async def _update_inbound(uow: UnitOfWork, before: PurchaseOrder | None, po: PurchaseOrder) -> None:
    """Refresh every (SKU, location) the PO touched before or touches now."""
    now = _now()
    for (sku, location), entries in inbound.affected(before, po):
        k = inbound.key(sku, location)
        current = store.inbound_from_doc(await uow.get(store.INBOUND, k))
        new, event, t = inbound.apply(current, sku, location, po.po_id, entries, now)
        if new != current:
            uow.put(store.INBOUND, k, store.to_doc(new))
        if event is not None:
            uow.emit("inbound.changed", event, key=k, time=t)
