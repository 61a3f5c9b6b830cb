"""Handlers through the in-memory unit of work: save, emit via the outbox, count after commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from carrier_tracking.domain.tracking import MAX_SCANS, Scan, Tracking
from carrier_tracking.main import SERVICE
from carrier_tracking.store import SHIPMENTS, from_doc, to_doc
from shared.errors import Rejected

T0 = datetime(2026, 11, 27, 8, tzinfo=UTC)
TN = "1Z999AA10123456784"


async def test_shipped_then_scans_publish_updates_with_order_and_event_time(runtime: Any) -> None:
    await runtime.shipped(TN)
    await runtime.scan(TN, "OR", 1)
    await runtime.scan(TN, "AR", 2)
    await runtime.scan(TN, "DP", 3)
    await runtime.scan(TN, "D", 20)
    sent = runtime.published
    first = sent[0]
    assert (first.exchange, first.key, first.event.type) == (
        "carrier-tracking.events",
        TN,
        "shipment.tracking_updated",
    )
    assert [p.event.data["milestone"] for p in sent] == ["picked_up", "in_transit", "delivered"]
    last = sent[-1].event
    assert last.time == T0 + timedelta(hours=20)
    assert last.correlationid == "ORD-1"
    assert last.causationid == f"{TN}-D-20"
    assert last.data["shipment_id"] == "SHP-1" and last.data["previous_milestone"] == "in_transit"


async def test_scans_before_shipment_shipped_are_joined_and_announced_again(runtime: Any) -> None:
    await runtime.scan(TN, "OR", 1)
    await runtime.scan(TN, "OT", 5)
    assert [p.event.data.get("order_id") for p in runtime.published] == [None, None]
    uow = await runtime.shipped(TN)
    (joined,) = uow.published
    assert joined.event.data["milestone"] == "out_for_delivery"
    assert joined.event.data["order_id"] == "ORD-1"
    assert joined.event.correlationid == "ORD-1"
    doc = runtime.store[SHIPMENTS][TN]
    assert doc["registration"]["shipment_id"] == "SHP-1" and len(doc["scans"]) == 2


async def test_tracking_numbers_are_matched_whatever_their_spacing_and_case(runtime: Any) -> None:
    await runtime.shipped("1z 999aa1 0123456784")
    await runtime.scan(TN, "OR", 1)
    assert runtime.published[-1].event.data["order_id"] == "ORD-1"


async def test_duplicate_scan_is_dropped_and_counted(
    runtime: Any, metric: Callable[..., float]
) -> None:
    dup = metric("distsync_carrier_tracking_duplicate_scans_total", carrier="ups")
    await runtime.scan(TN, "AR", 2, id="first")
    uow = await runtime.scan(TN, "AR", 2, id="second")
    assert uow.published == [] and len(runtime.store[SHIPMENTS][TN]["scans"]) == 1
    assert metric("distsync_carrier_tracking_duplicate_scans_total", carrier="ups") == dup + 1


async def test_unmapped_code_is_stored_counted_by_carrier_and_announces_nothing(
    runtime: Any, metric: Callable[..., float]
) -> None:
    unmapped = metric("distsync_carrier_tracking_unmapped_codes_total", carrier="fedex")
    scans = metric("distsync_carrier_tracking_scans_total", carrier="fedex", milestone="unmapped")
    uow = await runtime.scan(TN, "ZZ", 2, carrier="fedex")
    assert uow.published == []
    assert runtime.store[SHIPMENTS][TN]["scans"][0]["native_code"] == "ZZ"
    assert metric("distsync_carrier_tracking_unmapped_codes_total", carrier="fedex") == unmapped + 1
    assert (
        metric("distsync_carrier_tracking_scans_total", carrier="fedex", milestone="unmapped")
        == scans + 1
    )


async def test_scans_are_counted_by_carrier_and_milestone(
    runtime: Any, metric: Callable[..., float]
) -> None:
    name = "distsync_carrier_tracking_scans_total"
    before = metric(name, carrier="usps", milestone="out_for_delivery")
    other = metric(name, carrier="other", milestone="delivered")
    await runtime.scan("9400111899223197428490", "59", 1, carrier="usps")
    await runtime.scan("ONT123", "delivered", 1, carrier="ontrac")
    assert metric(name, carrier="usps", milestone="out_for_delivery") == before + 1
    assert metric(name, carrier="other", milestone="delivered") == other + 1


async def test_shipped_to_delivered_time_is_observed_once(
    runtime: Any, metric: Callable[..., float]
) -> None:
    name = "distsync_carrier_tracking_shipped_to_delivered_seconds_count"
    count = metric(name, carrier="ups")
    await runtime.scan(TN, "D", 30)
    assert metric(name, carrier="ups") == count
    await runtime.shipped(TN)
    await runtime.scan(TN, "FS", 31)
    assert metric(name, carrier="ups") == count + 1


async def test_too_many_scans_are_rejected_to_the_dead_letter_queue(runtime: Any) -> None:
    scans = tuple(
        Scan(carrier="ups", native_code="AR", time=T0 + timedelta(minutes=i), event_id=str(i))
        for i in range(MAX_SCANS)
    )
    runtime.store[SHIPMENTS] = {TN: to_doc(Tracking(tracking_number=TN, scans=scans))}
    with pytest.raises(Rejected, match="scans"):
        await runtime.scan(TN, "DP", 100)


def test_store_document_round_trips_to_the_same_state() -> None:
    state = Tracking(
        tracking_number=TN,
        scans=(Scan(carrier="ups", native_code="X", time=T0, event_id="e1", description="d"),),
    )
    doc = to_doc(state)
    assert from_doc({**doc, "_id": TN}) == state
    assert doc["status"]["milestone"] == "exception"
    naive = {**doc, "scans": [{**doc["scans"][0], "time": T0.replace(tzinfo=None)}]}
    assert from_doc(naive) == state


def test_service_definition_binds_both_routes_and_declares_its_publication() -> None:
    assert set(SERVICE.bindings()) == {
        ("wms.events", "shipment.shipped"),
        ("carrier.events", "shipment.shipped"),
        ("carrier.events", "tracking.reported"),
    }
    assert [p.type for p in SERVICE.publishes] == ["shipment.tracking_updated"]
    assert SERVICE.exchange == "carrier-tracking.events"
