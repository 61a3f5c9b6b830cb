"""The receipt service's own Prometheus metrics (default registry; no ids as labels)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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


def receipt_processed(outcome: str) -> None:
    RECEIPTS.labels(outcome=outcome).inc()


def exception_raised(kind: str) -> None:
    EXCEPTIONS.labels(kind=kind).inc()


def asn_to_receipt(seconds: float) -> None:
    ASN_TO_RECEIPT.observe(seconds)
