"""order-status's Prometheus metrics (default registry); labels are bounded, never ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prometheus_client import Counter, Gauge, Histogram

from order_status.domain.order import UNIT_KINDS, StatusChanged

KNOWN_SOURCES = (
    "erp",
    "wms",
    "tms",
    "carrier",
    "commerce",
    "edi",
    "portal",
    "returns",
    "carrier-tracking",
)

# Seconds: a minute to a month, for order milestones that take minutes (allocation) to days.
M, H, D = 60, 3600, 86400
LATENCY_BUCKETS = (M, 5 * M, 15 * M, 30 * M, H, 2 * H, 4 * H, 8 * H, D, 2 * D, 4 * D, 7 * D, 30 * D)

milestone_latency = Histogram(
    "distsync_order_status_milestone_latency_seconds",
    "Event time from one order milestone to the next, measured once per order.",
    ["milestone"],
    buckets=LATENCY_BUCKETS,
)
status_changes = Counter(
    "distsync_order_status_changes_total",
    "order.status_changed events announced, by new status.",
    ["status"],
)
exceptions_entered = Counter(
    "distsync_order_status_exceptions_total",
    "Orders that went into exception, by the source system that reported it.",
    ["source"],
)
unmapped_native = Counter(
    "distsync_order_status_unmapped_native_statuses_total",
    "Native statuses with no entry in their source's mapping table.",
    ["source"],
)
exception_resolution = Histogram(
    "distsync_order_status_exception_resolution_seconds",
    "Event time from an order entering exception to the milestone that cleared it.",
    ["source"],
    buckets=LATENCY_BUCKETS,
)
units = Counter(
    "distsync_order_status_units_total",
    "Units newly ordered (order.created), shipped (first report of a shipment) and backordered.",
    ["kind"],
)
for _kind in UNIT_KINDS:  # each kind exported from the start, so the unit ratios have a series
    units.labels(kind=_kind)
orders_in_exception = Gauge(
    "distsync_order_status_orders_in_exception",
    "Orders whose current status is exception (refreshed from the database).",
)
oldest_exception = Gauge(
    "distsync_order_status_oldest_exception_seconds",
    "Seconds since the order longest in exception entered it (the event time of the report "
    "that put it there); 0 when no order is in exception (refreshed from the database).",
)


def source_label(source: str) -> str:
    """The source system; for distsync's own services (`distsync/<service>`) the service."""
    parts = source.lower().split("/")
    system = parts[1] if parts[0] == "distsync" and len(parts) > 1 else parts[0]
    return system if system in KNOWN_SOURCES else "other"


def observe(
    changes: Sequence[StatusChanged],
    latencies: Sequence[tuple[str, float]],
    unmapped_sources: Sequence[str],
    resolved: Sequence[tuple[str, float]] = (),
    new_units: Mapping[str, float] | None = None,
) -> None:
    """Called after commit: the batch's effects are durable, count them."""
    for c in changes:
        status_changes.labels(status=c.status).inc()
        if c.status == "exception":
            exceptions_entered.labels(source=source_label(c.source)).inc()
    for name, seconds in latencies:
        milestone_latency.labels(milestone=name).observe(seconds)
    for src in unmapped_sources:
        unmapped_native.labels(source=source_label(src)).inc()
    for src, seconds in resolved:
        exception_resolution.labels(source=source_label(src)).observe(seconds)
    for kind, qty in (new_units or {}).items():
        units.labels(kind=kind).inc(qty)
