"""The order-status domain, pure: record a fact on an order, refold it, say what changed.

An order keeps every fact it was told (deduplicated by event id). Its state is a fold of those
facts in event-time order (see `fold.py`), so it is a function of the set of facts alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from order_status.fold import fold
from order_status.mappings import Tables
from order_status.messages import EnterpriseStatus
from order_status.views import Fact, Frozen, OrderView

# Milestone pairs whose latency is measured, once per order.
LATENCY_PAIRS: tuple[tuple[str, str], ...] = (
    ("received", "allocated"),
    ("allocated", "picked"),
    ("picked", "shipped"),
    ("shipped", "delivered"),
)


class Order(Frozen):
    order_id: str
    facts: tuple[Fact, ...] = ()
    view: OrderView | None = None
    status: EnterpriseStatus | None = None  # the status last announced
    observed: tuple[str, ...] = ()  # latencies already measured

    def fact(self, event_id: str) -> Fact | None:
        return next((f for f in self.facts if f.id == event_id), None)


class StatusChanged(Frozen):
    """The order's enterprise status changed: announce it as `order.status_changed`."""

    order_id: str
    status: EnterpriseStatus
    previous_status: EnterpriseStatus | None
    at: datetime
    source: str
    native_status: str | None = None
    reason: str | None = None


def record(
    order: Order | None, order_id: str, facts: Iterable[Fact], tables: Tables
) -> tuple[Order, list[StatusChanged]]:
    """Add `facts` to the order and refold it; facts already recorded change nothing."""
    base = order if order is not None else Order(order_id=order_id)
    known = {f.id for f in base.facts}
    new: dict[str, Fact] = {}
    for f in facts:
        if f.id not in known:
            new.setdefault(f.id, f)
    if not new:
        return base, []
    merged = tuple(sorted((*base.facts, *new.values()), key=lambda f: f.sort_key))
    return refold(base.model_copy(update={"facts": merged}), tables)


def refold(order: Order, tables: Tables) -> tuple[Order, list[StatusChanged]]:
    """Recompute the view from the facts; announce the status if it differs from the last one."""
    view = fold(order.facts, tables)
    events: list[StatusChanged] = []
    if view.status != order.status:
        cur = view.current
        events.append(
            StatusChanged(
                order_id=order.order_id,
                status=view.status,
                previous_status=order.status,
                at=cur.at,
                source=cur.source,
                native_status=cur.native_status,
                reason=cur.reason,
            )
        )
    return order.model_copy(update={"view": view, "status": view.status}), events


def first_reached(view: OrderView) -> dict[str, datetime]:
    """When (event time) each status was first reached."""
    out: dict[str, datetime] = {}
    for ms in view.milestones:
        out.setdefault(ms.status, ms.at)
    return out


def due_latencies(order: Order) -> tuple[Order, list[tuple[str, float]]]:
    """Milestone latencies (seconds) now known and not yet measured; each is measured once."""
    if order.view is None:
        return order, []
    reached = first_reached(order.view)
    due: list[tuple[str, float]] = []
    for a, b in LATENCY_PAIRS:
        name = f"{a}_to_{b}"
        if name not in order.observed and a in reached and b in reached:
            due.append((name, max(0.0, (reached[b] - reached[a]).total_seconds())))
    if not due:
        return order, []
    observed = (*order.observed, *(n for n, _ in due))
    return order.model_copy(update={"observed": observed}), due
