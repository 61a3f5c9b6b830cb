"""Handlers over the in-memory unit of work: save, announce through the outbox, count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from order_status import store
from order_status.domain.views import Fact
from order_status.main import SERVICE
from order_status.settings import OrderStatusSettings
from shared.envelope import build
from shared.service import Incoming
from shared.uow import InMemoryUnitOfWork


def incoming(f: Fact, correlationid: str | None = "ORD-1") -> Incoming[Any]:
    route = SERVICE.route_for(f.type)
    assert route is not None
    env = build(f.type, f.data, source=f.source, id=f.id, time=f.time, correlationid=correlationid)
    return Incoming(
        envelope=env,
        data=route.model.model_validate(f.data),
        exchange=route.exchanges[0],
        routing_key=f.type,
        received_at=f.received_at,
    )


async def deliver(facts: list[Fact], uow: InMemoryUnitOfWork) -> InMemoryUnitOfWork:
    """One batch per message, committed, as the runtime does with batch size 1."""
    for f in facts:
        route = SERVICE.route_for(f.type)
        assert route is not None
        await route.handler(incoming(f), uow)
        uow.commit()
    return uow


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_handler_saves_order_and_announces_each_status_change_through_outbox(
    kit: Any,
) -> None:
    h = kit.History()
    uow = await deliver(kit.happy(h), InMemoryUnitOfWork("order-status"))
    doc = uow.store[store.ORDERS]["ORD-1"]
    assert doc["status"] == "delivered"
    changes = [p.event for p in uow.published]
    assert {p.exchange for p in uow.published} == {"order-status.events"}
    assert {p.key for p in uow.published} == {"ORD-1"}
    assert [e.type for e in changes] == ["order.status_changed"] * 7
    last = changes[-1]
    assert last.data == {
        "order_id": "ORD-1",
        "status": "delivered",
        "previous_status": "shipped",
        "at": "2026-11-28T09:00:00.000Z",
        "source": "distsync/carrier-tracking",
        "native_status": "UPS-DELIVERED",
    }
    assert last.time == kit.t(1500)
    assert last.correlationid == "ORD-1"
    assert changes[0].data["previous_status"] is None


async def test_stored_order_has_top_level_status_and_updated_at_and_reloads_alike(
    kit: Any,
) -> None:
    h = kit.History()
    facts = kit.split(h)
    uow = await deliver(facts, InMemoryUnitOfWork("order-status"))
    doc = uow.store[store.ORDERS]["ORD-1"]
    assert doc["updated_at"] == facts[-1].received_at
    assert doc["status_at"] == kit.t(130)
    assert [s["tracking_number"] for s in doc["shipments"]] == ["1Z1", "1Z2"]
    assert json.dumps(doc, default=str)
    reloaded = store.order_from_doc(doc)
    assert [f.id for f in reloaded.facts] == [f.id for f in facts]
    assert kit.fold_all(reloaded.facts) == kit.fold_all(facts)


async def test_redelivered_event_is_neither_saved_nor_announced_again(kit: Any) -> None:
    h = kit.History()
    created = h.created(0)
    uow = await deliver([created], InMemoryUnitOfWork("order-status"))
    uow.published.clear()
    await deliver([created], uow)
    assert uow.published == []


async def test_event_that_changes_no_status_is_saved_without_an_announcement(kit: Any) -> None:
    h = kit.History()
    uow = await deliver([h.created(0, L1=10, L2=5)], InMemoryUnitOfWork("order-status"))
    uow.published.clear()
    await deliver([h.deallocated(1, L1=1)], uow)
    assert uow.published == []
    assert len(uow.store[store.ORDERS]["ORD-1"]["timeline"]) == 2


async def test_scan_without_order_id_is_parked_until_its_shipment_arrives(kit: Any) -> None:
    h = kit.History()
    uow = await deliver([h.created(0)], InMemoryUnitOfWork("order-status"))
    scan = h.scan(30, "delivered", "1Z7", None, with_order=False)
    await deliver([scan], uow)
    assert uow.store[store.ORDERS]["ORD-1"]["status"] == "received"
    assert uow.store[store.PENDING]["tracking:1Z7"]["facts"][0]["id"] == scan.id
    await deliver([h.shipped(20, "S7", "1Z7", L1=10)], uow)
    doc = uow.store[store.ORDERS]["ORD-1"]
    assert doc["status"] == "delivered"
    assert uow.store[store.PENDING]["tracking:1Z7"]["facts"] == []
    assert [p.event.data["status"] for p in uow.published][-1] == "delivered"


async def test_scan_without_order_id_is_matched_through_its_shipment_id(kit: Any) -> None:
    h = kit.History()
    facts = [h.created(0), h.shipped(1, "S1", "1Z1", L1=10)]
    uow = await deliver(facts, InMemoryUnitOfWork("order-status"))
    await deliver([h.scan(2, "delivered", "OTHER", "S1", with_order=False)], uow)
    assert uow.store[store.ORDERS]["ORD-1"]["status"] == "delivered"


async def test_unmapped_native_status_is_counted_by_source_after_commit(kit: Any) -> None:
    name = "distsync_order_status_unmapped_native_statuses_total"
    before = sample(name, source="wms")
    h = kit.History("ORD-UNMAPPED")
    uow = InMemoryUnitOfWork("order-status")
    for f in [h.created(0), h.reported(1, "Teleported", source="wms/dc-east")]:
        route = SERVICE.route_for(f.type)
        assert route is not None
        await route.handler(incoming(f), uow)
    assert sample(name, source="wms") == before
    uow.commit()
    assert sample(name, source="wms") == before + 1


async def test_milestone_latencies_are_observed_once_per_order(kit: Any) -> None:
    name = "distsync_order_status_milestone_latency_seconds_count"
    before = {
        m: sample(name, milestone=m) for m in ("received_to_allocated", "shipped_to_delivered")
    }
    h = kit.History("ORD-LATENCY")
    facts = kit.happy(h)
    uow = await deliver(
        [*facts, facts[2], h.reported(2000, "delivered", "tms/otm")],
        InMemoryUnitOfWork("order-status"),
    )
    for m, n in before.items():
        assert sample(name, milestone=m) == n + 1
    sum_name = "distsync_order_status_milestone_latency_seconds_sum"
    assert sample(sum_name, milestone="shipped_to_delivered") >= 1440 * 60
    assert sorted(uow.store[store.ORDERS]["ORD-LATENCY"]["observed"]) == [
        "allocated_to_picked",
        "picked_to_shipped",
        "received_to_allocated",
        "received_to_delivered",
        "received_to_shipped",
        "shipped_to_delivered",
    ]


async def test_exception_is_counted_by_the_source_that_reported_it(kit: Any) -> None:
    name = "distsync_order_status_exceptions_total"
    before = sample(name, source="carrier-tracking")
    h = kit.History("ORD-EXC")
    facts = [h.created(0), h.shipped(1, L1=10), h.scan(2, "exception", reason="damaged")]
    await deliver(facts, InMemoryUnitOfWork("order-status"))
    assert sample(name, source="carrier-tracking") == before + 1


async def test_mapping_override_file_from_settings_is_used(kit: Any, tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"erp": {"ZREL": "allocated"}}))
    settings = OrderStatusSettings(order_status_mapping_file=str(path))
    uow = InMemoryUnitOfWork("order-status", settings=settings)
    h = kit.History()
    await deliver([h.created(0), h.reported(1, "ZREL")], uow)
    assert uow.store[store.ORDERS]["ORD-1"]["status"] == "allocated"


async def test_a_shipment_and_a_parking_scan_in_concurrent_transactions_write_one_document(
    kit: Any,
) -> None:
    """With partitions, shipment.shipped (keyed by order) and a scan without order id (keyed by
    tracking number) can run at once on two replicas, each from the same snapshot. The scan
    finds no reference and parks; the shipment finds nothing parked. Snapshot isolation lets
    both commit unless they write a document in common: then the database refuses one and it
    is redone against the other's result. Each unit of work here starts from the same store."""
    import copy

    h = kit.History()
    base = await deliver([h.created(0)], InMemoryUnitOfWork("order-status"))
    scan = h.scan(30, "delivered", "1Z7", None, with_order=False)
    shipped = h.shipped(20, "S7", "1Z7", L1=10)
    writes = []
    for f in (scan, shipped):
        uow = InMemoryUnitOfWork("order-status", copy.deepcopy(base.store))
        route = SERVICE.route_for(f.type)
        assert route is not None
        await route.handler(incoming(f), uow)
        writes.append({(c, k) for c, k, _ in uow.dirty_items()})
    assert (store.PENDING, "tracking:1Z7") in writes[0] & writes[1]
