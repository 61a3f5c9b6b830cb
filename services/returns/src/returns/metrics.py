"""Prometheus metrics of the returns service, fed from what a committed step changed."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Histogram

from returns.domain.state import Emit, Rma
from returns.messages import ReturnStatusChanged, ReturnStockDispositioned, ReturnStockReceived

STATUS_CHANGES = Counter(
    "distsync_returns_status_changes_total", "RMAs reaching each status", ["status"]
)
RECEIVED_UNITS = Counter("distsync_returns_received_units_total", "Returned units received")
DISPOSITION_UNITS = Counter(
    "distsync_returns_disposition_units_total", "Inspected units by disposition", ["disposition"]
)
FLAGS = Counter(
    "distsync_returns_flags_total",
    "Receipts not covered by the authorization (quarantined and flagged)",
    ["kind"],
)
FLAGGED_UNITS = Counter(
    "distsync_returns_flagged_units_total", "Units received beyond the authorization", ["kind"]
)
RECEIPT_TO_INSPECTION = Histogram(
    "distsync_returns_receipt_to_inspection_seconds",
    "Event time from an item's first receipt to an inspection of it",
    buckets=(
        60,
        300,
        900,
        3600,
        4 * 3600,
        12 * 3600,
        86400,
        2 * 86400,
        4 * 86400,
        7 * 86400,
        14 * 86400,
        30 * 86400,
    ),
)
SWEEP = Counter(
    "distsync_returns_sweep_total", "RMAs the expiry sweep handled, by outcome", ["outcome"]
)


def record(before: Rma | None, after: Rma, emits: Sequence[Emit]) -> None:
    """Count the status changes, units, flags and inspection latencies of one step."""
    for e in emits:
        if isinstance(e.data, ReturnStatusChanged):
            STATUS_CHANGES.labels(status=e.data.status).inc()
        elif isinstance(e.data, ReturnStockReceived):
            RECEIVED_UNITS.inc(e.data.qty)
        elif isinstance(e.data, ReturnStockDispositioned):
            DISPOSITION_UNITS.labels(disposition=e.data.disposition).inc(e.data.qty)
    for flag in after.flags[len(before.flags) if before else 0 :]:
        FLAGS.labels(kind=flag.kind).inc()
        FLAGGED_UNITS.labels(kind=flag.kind).inc(flag.qty)
    for entry in after.history[len(before.history) if before else 0 :]:
        if entry.latency_s is not None:
            RECEIPT_TO_INSPECTION.observe(entry.latency_s)
