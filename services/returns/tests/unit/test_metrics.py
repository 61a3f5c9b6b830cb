"""Metrics follow committed changes: statuses, dispositions, flags, receipt-to-inspection time."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_statuses_dispositions_flags_and_inspection_latency(h, ev):
    before = {
        "completed": value("distsync_returns_status_changes_total", status="completed"),
        "scrap": value("distsync_returns_disposition_units_total", disposition="scrap"),
        "flags": value("distsync_returns_flags_total", kind="over_receipt"),
        "latency": value("distsync_returns_receipt_to_inspection_seconds_count"),
        "sum": value("distsync_returns_receipt_to_inspection_seconds_sum"),
    }
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 4)]), at=ev.T0)
    await h.send("return.received", ev.received(lines=[("SKU-1", 5)]), at=ev.T0)
    await h.send(
        "return.inspected",
        ev.inspected(lines=[("SKU-1", 3, "restock"), ("SKU-1", 2, "scrap")]),
        at=ev.T0 + timedelta(hours=2),
    )

    assert (
        value("distsync_returns_status_changes_total", status="completed")
        == before["completed"] + 1
    )
    assert (
        value("distsync_returns_disposition_units_total", disposition="scrap")
        == before["scrap"] + 2
    )
    assert value("distsync_returns_flags_total", kind="over_receipt") == before["flags"] + 1
    assert value("distsync_returns_receipt_to_inspection_seconds_count") == before["latency"] + 2
    assert value("distsync_returns_receipt_to_inspection_seconds_sum") == before["sum"] + 4 * 3600
