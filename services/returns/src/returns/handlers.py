"""Message handlers: load the RMA, one domain call, save it, its pending shares and events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from returns import metrics, store
from returns.domain import pending, workflow
from returns.domain.state import Emit, Rma
from returns.messages import ReturnAuthorized, ReturnInspected, ReturnReceived
from shared.service import Incoming
from shared.uow import UnitOfWork


async def load_rma(uow: UnitOfWork, rma_id: str) -> Rma | None:
    return store.rma_from_doc(await uow.get(store.RMAS, rma_id))


async def save_rma(
    uow: UnitOfWork,
    before: Rma | None,
    after: Rma,
    emits: Sequence[Emit],
    *,
    now: datetime,
    correlationid: str,
) -> None:
    """Write the RMA, its events, and every pending share it changed, in the same unit."""
    if not workflow.changed(before, after):
        return
    uow.put(store.RMAS, after.rma_id, store.rma_to_doc(after))
    for e in emits:
        uow.emit(e.type, e.data, key=after.rma_id, time=e.time, correlationid=correlationid)
    for sku, location, qty in pending.shares_changed(before, after):
        key = store.pending_key(sku, location)
        current = store.pending_from_doc(await uow.get(store.PENDING, key))
        base = current or pending.Pending(sku=sku, location=location)
        updated, emit = pending.set_pending(base, after.rma_id, qty, now)
        uow.put(store.PENDING, key, store.pending_to_doc(updated))
        if emit is not None:
            uow.emit(emit.type, emit.data, key=key, time=emit.time, correlationid=correlationid)
    uow.on_commit(lambda: metrics.record(before, after, emits))


def _correlation(msg: Incoming[Any], rma_id: str) -> str:
    return msg.envelope.correlationid or rma_id


async def handle_return_authorized(msg: Incoming[ReturnAuthorized], uow: UnitOfWork) -> None:
    d = msg.data
    before = await load_rma(uow, d.rma_id)
    after, emits = workflow.authorize(
        before, d, at=msg.time, now=msg.received_at, source=msg.envelope.system, event_id=msg.id
    )
    await save_rma(
        uow, before, after, emits, now=msg.received_at, correlationid=_correlation(msg, d.rma_id)
    )


async def handle_return_received(msg: Incoming[ReturnReceived], uow: UnitOfWork) -> None:
    d = msg.data
    before = await load_rma(uow, d.rma_id)
    after, emits = workflow.receive(before, d, at=msg.time, event_id=msg.id)
    await save_rma(
        uow, before, after, emits, now=msg.received_at, correlationid=_correlation(msg, d.rma_id)
    )


async def handle_return_inspected(msg: Incoming[ReturnInspected], uow: UnitOfWork) -> None:
    d = msg.data
    before = await load_rma(uow, d.rma_id)
    after, emits = workflow.inspect(before, d, at=msg.time, event_id=msg.id)
    await save_rma(
        uow, before, after, emits, now=msg.received_at, correlationid=_correlation(msg, d.rma_id)
    )


async def expire(uow: UnitOfWork, rma_id: str, now: datetime) -> bool:
    """Lapse one RMA if it is still due when re-read inside the transaction; True if it was."""
    before = await load_rma(uow, rma_id)
    if before is None:
        return False
    after, emits = workflow.lapse(before, now)
    if after is before:
        return False
    await save_rma(uow, before, after, emits, now=now, correlationid=rma_id)
    return True


def preload_rma(data: ReturnAuthorized | ReturnReceived | ReturnInspected) -> list[tuple[str, str]]:
    """The RMA a message is about: read with its batch, and the key that keeps one RMA's
    messages in order (one batch at a time in a replica; one partition across replicas). The
    pending shares it changes are found from the RMA and read in the handler; two RMAs that
    share one conflict on its document and the later transaction is redone."""
    return [(store.RMAS, data.rma_id)]
