"""An order, pure: record facts on it, refold it, say what changed and what to measure.

An order keeps every fact it was told (deduplicated by event id). Its state is a fold of those
facts in event-time order (see `fold.py`), so it is a function of the set of facts alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from order_status.domain.fold import fold
from order_status.domain.mappings import Tables
from order_status.domain.ranks import EnterpriseStatus
from order_status.domain.views import Fact, OrderView
from shared.schema import Frozen

# Milestone pairs whose latency is measured, once per order.
LATENCY_PAIRS: tuple[tuple[str, str], ...] = (
    ("received", "allocated"),
    ("allocated", "picked"),
    ("picked", "shipped"),
    ("shipped", "delivered"),
    ("received", "shipped"),
    ("received", "delivered"),
)
UNIT_KINDS = ("ordered", "shipped", "backordered")


class Order(Frozen):
    order_id: str
    facts: tuple[Fact, ...] = ()
    view: OrderView | None = None
    status: EnterpriseStatus | None = None  # the status last announced
    observed: tuple[str, ...] = ()  # latencies already measured


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


def folded(order: Order | None, tables: Tables) -> Order | None:
    """The order with its view (a stored order is loaded with its facts only)."""
    if order is None or order.view is not None or not order.facts:
        return order
    return order.model_copy(update={"view": fold(order.facts, tables)})


def _totals(order: Order | None) -> tuple[float, float]:
    """Units ordered and shipped on the order's folded lines."""
    if order is None or order.view is None:
        return 0.0, 0.0
    lines = order.view.lines
    return sum(ln.ordered for ln in lines), sum(ln.shipped for ln in lines)


def new_units(before: Order | None, after: Order) -> dict[str, float]:
    """Units newly ordered, shipped and backordered by the facts `after` added to `before`.

    Both orders must carry their view (see `folded`).

    ordered and shipped are the rise of the folded totals: an amended `order.created` counts only
    the units it adds, and a repeated report of a shipment adds nothing (the fold keeps a
    shipment's first report). backordered is the lines of newly recorded `order.backordered`
    facts (the folded backorder is what is still open, which allocations consume).
    """
    old = {f.id for f in before.facts} if before is not None else set()
    (ordered0, shipped0), (ordered1, shipped1) = _totals(before), _totals(after)
    backordered = sum(
        float(ln.get("qty", 0.0))
        for f in after.facts
        if f.type == "order.backordered" and f.id not in old
        for ln in f.data.get("lines", ())
    )
    units = {
        "ordered": max(0.0, ordered1 - ordered0),
        "shipped": max(0.0, shipped1 - shipped0),
        "backordered": backordered,
    }
    return {k: v for k, v in units.items() if v > 0}


def resolved_exceptions(
    before: Order | None, changes: Iterable[StatusChanged]
) -> list[tuple[str, float]]:
    """(source of the exception, seconds) for each announced change out of `exception`.

    The duration is the clearing milestone's event time minus the event time the exception was
    reached (the last milestone of `before`, which must carry its view). Only an announced change
    counts, so a duplicate or a late event that leaves the status alone measures nothing.
    """
    if before is None or before.view is None or before.status != "exception":
        return []
    start = before.view.current
    return [
        (start.source, max(0.0, (c.at - start.at).total_seconds()))
        for c in changes
        if c.previous_status == "exception" and c.status != "exception"
    ]


def new_unmapped(before: Order | None, after: Order) -> list[str]:
    """The mapping source of each fact `after` added whose native status no table knows."""
    old = {f.id for f in before.facts} if before is not None else set()
    timeline = after.view.timeline if after.view is not None else ()
    return [e.mapping or "unknown" for e in timeline if e.unmapped and e.event_id not in old]


@dataclass(frozen=True)
class Recorded:
    """What recording facts did: the order to save, the changes to announce, what to measure."""

    order: Order
    changes: list[StatusChanged]
    latencies: list[tuple[str, float]]
    units: dict[str, float]
    resolved: list[tuple[str, float]]
    unmapped: list[str]


def record_facts(
    before: Order | None, order_id: str, facts: Iterable[Fact], tables: Tables
) -> Recorded | None:
    """Record `facts` on the order; None when they were all recorded already."""
    order, changes = record(before, order_id, facts, tables)
    if order is before:
        return None
    order, latencies = due_latencies(order)
    before = folded(before, tables)
    return Recorded(
        order=order,
        changes=changes,
        latencies=latencies,
        units=new_units(before, order),
        resolved=resolved_exceptions(before, changes),
        unmapped=new_unmapped(before, order),
    )
