"""Message handlers: load the RMA, apply the domain, save it, its pending shares and events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from returns import domain, metrics, state, store
from returns.messages import ReturnAuthorized, ReturnInspected, ReturnReceived
from returns.pending import Pending, set_pending
from returns.state import Emit, Rma
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
    if after == before or (before is None and after == Rma(rma_id=after.rma_id)):
        return
    uow.put(store.RMAS, after.rma_id, store.rma_to_doc(after))
    for e in emits:
        uow.emit(e.type, e.data, key=after.rma_id, time=e.time, correlationid=correlationid)
    old = state.pending_contributions(before)
    new = state.pending_contributions(after)
    for sku, location in sorted(set(old) | set(new)):
        qty = new.get((sku, location), 0.0)
        if abs(qty - old.get((sku, location), 0.0)) <= state.EPS:
            continue
        key = store.pending_key(sku, location)
        current = store.pending_from_doc(await uow.get(store.PENDING, key))
        updated, emit = set_pending(
            current or Pending(sku=sku, location=location), after.rma_id, qty, now
        )
        uow.put(store.PENDING, key, store.pending_to_doc(updated))
        if emit is not None:
            uow.emit(emit.type, emit.data, key=key, time=emit.time, correlationid=correlationid)
    uow.on_commit(lambda: metrics.record(before, after, emits))


def _correlation(msg: Incoming[Any], rma_id: str) -> str:
    return msg.envelope.correlationid or rma_id


async def handle_return_authorized(msg: Incoming[ReturnAuthorized], uow: UnitOfWork) -> None:
    d = msg.data
    before = await load_rma(uow, d.rma_id)
    after, emits = domain.authorize(
        before, d, at=msg.time, now=msg.received_at, source=msg.envelope.system, event_id=msg.id
    )
    await save_rma(
        uow, before, after, emits, now=msg.received_at, correlationid=_correlation(msg, d.rma_id)
    )


async def handle_return_received(msg: Incoming[ReturnReceived], uow: UnitOfWork) -> None:
    d = msg.data
    before = await load_rma(uow, d.rma_id)
    after, emits = domain.receive(before, d, at=msg.time, event_id=msg.id)
    await save_rma(
        uow, before, after, emits, now=msg.received_at, correlationid=_correlation(msg, d.rma_id)
    )


async def handle_return_inspected(msg: Incoming[ReturnInspected], uow: UnitOfWork) -> None:
    d = msg.data
    before = await load_rma(uow, d.rma_id)
    after, emits = domain.inspect(before, d, at=msg.time, event_id=msg.id)
    await save_rma(
        uow, before, after, emits, now=msg.received_at, correlationid=_correlation(msg, d.rma_id)
    )


async def expire(uow: UnitOfWork, rma_id: str, now: datetime) -> bool:
    """Lapse one RMA if it is still due when re-read inside the transaction; True if it was."""
    before = await load_rma(uow, rma_id)
    if before is None or not state.is_due(before, now):
        return False
    after, emits = domain.lapse(before, now)
    await save_rma(uow, before, after, emits, now=now, correlationid=rma_id)
    return True
