"""Metrics move only once a batch commits, and carry kinds and outcomes, never ids."""

from __future__ import annotations

from prometheus_client import REGISTRY


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_receipts_exceptions_and_asn_lateness_are_counted(svc):
    before = (
        _value("distsync_receipt_receipts_total", outcome="checked"),
        _value("distsync_receipt_receipts_total", outcome="duplicate"),
        _value("distsync_receipt_exceptions_total", kind="over_receipt"),
        _value("distsync_receipt_asn_to_receipt_seconds_count"),
        _value("distsync_receipt_asn_to_receipt_seconds_bucket", le="3600.0"),
        _value("distsync_receipt_asn_to_receipt_seconds_bucket", le="21600.0"),
    )
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.asn("ASN-1", "PO-1", "2026-11-27T06:00:00Z", [("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 11)], time=svc.at(1), asn_id="ASN-1")
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 11)], time=svc.at(1))

    after = (
        _value("distsync_receipt_receipts_total", outcome="checked"),
        _value("distsync_receipt_receipts_total", outcome="duplicate"),
        _value("distsync_receipt_exceptions_total", kind="over_receipt"),
        _value("distsync_receipt_asn_to_receipt_seconds_count"),
        _value("distsync_receipt_asn_to_receipt_seconds_bucket", le="3600.0"),
        _value("distsync_receipt_asn_to_receipt_seconds_bucket", le="21600.0"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1, 0, 1]  # 3 h late


def test_open_exception_gauges_cover_every_kind_and_read_zero_for_a_kind_without_one():
    from datetime import UTC, datetime, timedelta

    from receipt.messages import EXCEPTION_KINDS
    from receipt.metrics import open_exceptions

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    open_exceptions({"damaged": (2, now - timedelta(hours=6))}, now)
    for kind in EXCEPTION_KINDS:
        count = _value("distsync_receipt_open_exceptions", kind=kind)
        age = _value("distsync_receipt_oldest_open_exception_seconds", kind=kind)
        assert (count, age) == ((2, 6 * 3600.0) if kind == "damaged" else (0, 0)), kind
    open_exceptions({}, now)
    assert _value("distsync_receipt_open_exceptions", kind="damaged") == 0
