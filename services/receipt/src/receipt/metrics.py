"""The receipt service's own Prometheus metrics (default registry; no ids as labels)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from receipt.messages import EXCEPTION_KINDS

RECEIPTS = Counter(
    "distsync_receipt_receipts_total",
    "Receipts processed, by outcome: checked (against a PO), blind, held (waiting for the "
    "PO release; counted again as checked when released), duplicate (receipt_id seen before)",
    ["outcome"],
)
EXCEPTIONS = Counter(
    "distsync_receipt_exceptions_total", "receipt.exception events raised, by kind", ["kind"]
)
_DAY = 86_400.0
ASN_TO_RECEIPT = Histogram(
    "distsync_receipt_asn_to_receipt_seconds",
    "Receipt event time minus its ASN's expected date; negative is early "
    "(signed buckets, so prometheus_client exposes no _sum)",
    buckets=(
        -7 * _DAY,
        -3 * _DAY,
        -_DAY,
        -6 * 3600.0,
        -3600.0,
        0.0,
        3600.0,
        6 * 3600.0,
        _DAY,
        3 * _DAY,
        7 * _DAY,
        14 * _DAY,
        float("inf"),
    ),
)


OPEN_EXCEPTIONS = Gauge(
    "distsync_receipt_open_exceptions",
    "Stored receipt exceptions of purchase orders still open (open or partially_received), "
    "by kind (refreshed from the database)",
    ["kind"],
)
OLDEST_OPEN_EXCEPTION = Gauge(
    "distsync_receipt_oldest_open_exception_seconds",
    "Seconds since the oldest of those exceptions was raised (the receipt's event time at the "
    "WMS), by kind; 0 when there is none (refreshed from the database)",
    ["kind"],
)
for _kind in EXCEPTION_KINDS:  # every kind has a series from the start, 0 until it has one
    OPEN_EXCEPTIONS.labels(kind=_kind)
    OLDEST_OPEN_EXCEPTION.labels(kind=_kind)


def open_exceptions(stats: Mapping[str, tuple[int, datetime]], now: datetime) -> None:
    """Set both gauges for every kind from (count, oldest event time) per kind."""
    for kind in sorted({*EXCEPTION_KINDS, *stats}):
        count, oldest = stats.get(kind, (0, now))
        OPEN_EXCEPTIONS.labels(kind=kind).set(count)
        OLDEST_OPEN_EXCEPTION.labels(kind=kind).set(max(0.0, (now - oldest).total_seconds()))


def receipt_processed(outcome: str) -> None:
    RECEIPTS.labels(outcome=outcome).inc()


def exception_raised(kind: str) -> None:
    EXCEPTIONS.labels(kind=kind).inc()


def asn_to_receipt(seconds: float) -> None:
    ASN_TO_RECEIPT.observe(seconds)
