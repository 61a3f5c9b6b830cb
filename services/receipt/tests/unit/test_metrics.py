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
