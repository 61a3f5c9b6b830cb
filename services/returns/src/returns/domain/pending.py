"""Expected supply from open RMAs per (sku, location), pure: one document per key.

Each document lists every open RMA's authorized-not-yet-received quantity, so a handler
updates it by key without querying, and the published total is absolute.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from returns.domain.state import EPS, Emit, Rma, pending_contributions
from returns.messages import ReturnsPendingChanged
from shared.schema import Frozen


class PendingEntry(Frozen):
    rma_id: str
    qty: float


class Pending(Frozen):
    sku: str
    location: str
    entries: tuple[PendingEntry, ...] = ()
    total: float = 0.0
    last_time: datetime | None = None


def shares_changed(before: Rma | None, after: Rma) -> list[tuple[str, str, float]]:
    """(sku, location, this RMA's new share) for each expected supply the step changed."""
    old = pending_contributions(before)
    new = pending_contributions(after)
    out = []
    for sku, location in sorted(set(old) | set(new)):
        qty = new.get((sku, location), 0.0)
        if abs(qty - old.get((sku, location), 0.0)) > EPS:
            out.append((sku, location, qty))
    return out


def set_pending(p: Pending, rma_id: str, qty: float, now: datetime) -> tuple[Pending, Emit | None]:
    """Set one RMA's share; announce the new total, at a time never before the last one."""
    entries = [e for e in p.entries if e.rma_id != rma_id]
    if qty > EPS:
        entries.append(PendingEntry(rma_id=rma_id, qty=qty))
    total = round(math.fsum(e.qty for e in entries), 9)
    if abs(total - p.total) <= EPS:
        return p.model_copy(update={"entries": tuple(entries)}), None
    # strictly later than the last announcement, at the envelope's millisecond precision:
    # availability keeps the newest absolute value by event time, so a tie would be a coin toss
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    t = now if p.last_time is None else max(p.last_time + timedelta(milliseconds=1), now)
    new = p.model_copy(update={"entries": tuple(entries), "total": total, "last_time": t})
    data = ReturnsPendingChanged(sku=p.sku, location=p.location, pending_qty=total)
    return new, Emit("returns.pending_changed", data, t)
