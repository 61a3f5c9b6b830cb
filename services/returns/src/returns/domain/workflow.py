"""The RMA workflow, pure: functions (rma, event) -> (new rma, events to publish)."""

from __future__ import annotations

from datetime import datetime

from returns.domain.state import (
    EPS,
    Emit,
    Flag,
    FlagKind,
    HistoryEntry,
    Item,
    Rma,
    RmaLine,
    derive_status,
    excess_by_sku,
    is_due,
    sku_totals,
)
from returns.messages import (
    ReturnAuthorized,
    ReturnInspected,
    ReturnReceived,
    ReturnStatusChanged,
    ReturnStockDispositioned,
    ReturnStockReceived,
)
from shared.errors import Rejected


def authorize(
    rma: Rma | None,
    ev: ReturnAuthorized,
    *,
    at: datetime,
    now: datetime,
    source: str,
    event_id: str,
) -> tuple[Rma, list[Emit]]:
    """The newest authorization (by event time) defines the RMA; older ones are ignored."""
    base = rma or Rma(rma_id=ev.rma_id)
    if base.authorized_at is not None and at < base.authorized_at:
        note = HistoryEntry(
            at=at,
            kind="authorization_ignored",
            event_id=event_id,
            detail="older than the authorization in effect",
        )
        return base.model_copy(update={"history": (*base.history, note)}), []
    wanted: dict[str, float] = {}
    for line in ev.lines:
        wanted[line.sku] = wanted.get(line.sku, 0.0) + line.qty
    items = [it.model_copy(update={"authorized": 0.0}) for it in base.items]
    for sku, qty in wanted.items():
        i = _index(items, sku, ev.location)
        items[i] = items[i].model_copy(update={"authorized": qty})
    items = [it for it in items if it.authorized > EPS or it.received > EPS]
    still_lapsed = base.lapsed and ev.expires_at is not None and ev.expires_at <= now
    entry = HistoryEntry(
        at=at,
        kind="authorized",
        event_id=event_id,
        location=ev.location,
        qty=sum(wanted.values()),
        detail=f"by {source}",
    )
    new = base.model_copy(
        update={
            "order_id": ev.order_id,
            "location": ev.location,
            "authorized_at": at,
            "authorized_by": source,
            "expires_at": ev.expires_at,
            "lapsed": still_lapsed,
            "lines": tuple(RmaLine(**ln.model_dump()) for ln in ev.lines),
            "items": tuple(items),
            "history": (*base.history, entry),
        }
    )
    return _restatus(_flag_excess(base, new, at, None), at)


def receive(
    rma: Rma | None, ev: ReturnReceived, *, at: datetime, event_id: str
) -> tuple[Rma, list[Emit]]:
    """Every received unit goes on hand (quarantined); excess is flagged, never refused."""
    base = rma or Rma(rma_id=ev.rma_id)
    items = list(base.items)
    emits: list[Emit] = []
    history = list(base.history)
    flags = list(base.flags)
    detail = None if base.authorized else "held until the authorization arrives"
    for line in ev.lines:
        if line.qty <= EPS:
            continue
        i = _index(items, line.sku, ev.location)
        first = items[i].first_received_at
        items[i] = items[i].model_copy(
            update={
                "received": items[i].received + line.qty,
                "first_received_at": at if first is None else min(first, at),
            }
        )
        data = ReturnStockReceived(
            rma_id=ev.rma_id, location=ev.location, sku=line.sku, qty=line.qty
        )
        emits.append(Emit("return.stock_received", data, at))
        history.append(
            HistoryEntry(
                at=at,
                kind="received",
                event_id=event_id,
                sku=line.sku,
                location=ev.location,
                qty=line.qty,
                detail=detail,
            )
        )
        if base.lapsed:
            flags.append(
                Flag(
                    kind="received_after_expiry",
                    sku=line.sku,
                    location=ev.location,
                    qty=line.qty,
                    at=at,
                )
            )
    new = base.model_copy(
        update={"items": tuple(items), "history": tuple(history), "flags": tuple(flags)}
    )
    new, status_emits = _restatus(_flag_excess(base, new, at, ev.location), at)
    return new, emits + status_emits


def inspect(
    rma: Rma | None, ev: ReturnInspected, *, at: datetime, event_id: str
) -> tuple[Rma, list[Emit]]:
    """Disposition received units; inspecting more than is awaiting inspection is refused."""
    if rma is None:
        raise Rejected(f"inspecting more than received: nothing received on RMA {ev.rma_id}")
    base = rma
    asked: dict[str, float] = {}
    for line in ev.lines:
        asked[line.sku] = asked.get(line.sku, 0.0) + line.qty
    for sku, qty in asked.items():
        have = next(
            (
                it.awaiting_inspection
                for it in base.items
                if it.sku == sku and it.location == ev.location
            ),
            0.0,
        )
        if qty - have > EPS:
            raise Rejected(
                f"inspecting more than received: RMA {ev.rma_id} sku {sku} at {ev.location}: "
                f"{qty:g} inspected, {max(have, 0.0):g} received and not yet inspected"
            )
    items = list(base.items)
    emits: list[Emit] = []
    history = list(base.history)
    for line in ev.lines:
        if line.qty <= EPS:
            continue
        i = _index(items, line.sku, ev.location)
        it = items[i]
        items[i] = it.model_copy(
            update={line.disposition: getattr(it, line.disposition) + line.qty}
        )
        data = ReturnStockDispositioned(
            rma_id=ev.rma_id,
            location=ev.location,
            sku=line.sku,
            qty=line.qty,
            disposition=line.disposition,
        )
        emits.append(Emit("return.stock_dispositioned", data, at))
        latency = None
        if it.first_received_at is not None:
            latency = max(0.0, (at - it.first_received_at).total_seconds())
        history.append(
            HistoryEntry(
                at=at,
                kind="inspected",
                event_id=event_id,
                sku=line.sku,
                location=ev.location,
                qty=line.qty,
                disposition=line.disposition,
                latency_s=latency,
            )
        )
    new = base.model_copy(update={"items": tuple(items), "history": tuple(history)})
    new, status_emits = _restatus(new, at)
    return new, emits + status_emits


def changed(before: Rma | None, after: Rma) -> bool:
    """Whether a step changed anything to save: an RMA first seen in a step that leaves it
    empty is not saved."""
    return after != before and not (before is None and after == Rma(rma_id=after.rma_id))


def lapse(rma: Rma, now: datetime) -> tuple[Rma, list[Emit]]:
    """Past `expires_at` nothing more is expected: expired if nothing came, else closes."""
    if not is_due(rma, now) or rma.expires_at is None:
        return rma, []
    at = rma.expires_at
    entry = HistoryEntry(at=at, kind="authorization_lapsed", detail=f"swept at {now.isoformat()}")
    new = rma.model_copy(update={"lapsed": True, "history": (*rma.history, entry)})
    return _restatus(new, at)


# -- helpers -----------------------------------------------------------------------------------


def _index(items: list[Item], sku: str, location: str) -> int:
    """Position of the (sku, location) item, appending an empty one if missing."""
    for i, it in enumerate(items):
        if it.sku == sku and it.location == location:
            return i
    items.append(Item(sku=sku, location=location))
    return len(items) - 1


def _flag_excess(before: Rma, after: Rma, at: datetime, location: str | None) -> Rma:
    """Flag each SKU whose excess over the authorization grew in this step."""
    old = excess_by_sku(before)
    totals = sku_totals(after)
    flags = list(after.flags)
    for sku, excess in excess_by_sku(after).items():
        grown = excess - old.get(sku, 0.0)
        if grown <= EPS:
            continue
        kind: FlagKind = "unexpected_sku" if totals[sku][0] <= EPS else "over_receipt"
        where = location or next(
            (it.location for it in after.items if it.sku == sku and it.received > EPS), None
        )
        flags.append(Flag(kind=kind, sku=sku, location=where, qty=grown, at=at))
    return after.model_copy(update={"flags": tuple(flags)})


def _restatus(rma: Rma, at: datetime) -> tuple[Rma, list[Emit]]:
    """Record and announce a status change; its time never precedes the previous one."""
    status = derive_status(rma)
    if status == rma.status or status is None:
        return rma, []
    t = at if rma.status_time is None else max(rma.status_time, at)
    entry = HistoryEntry(at=t, kind="status", status=status)
    new = rma.model_copy(
        update={"status": status, "status_time": t, "history": (*rma.history, entry)}
    )
    data = ReturnStatusChanged(rma_id=rma.rma_id, order_id=rma.order_id or "", status=status)
    return new, [Emit("return.status_changed", data, t)]
