"""Every consumed event type through its handler, as the runtime would deliver it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from availability import metrics

ADJ = "inventory.adjusted"


def adj(qty: float, sku: str = "SKU-1", location: str = "A") -> dict[str, object]:
    return {"location": location, "sku": sku, "qty_delta": qty, "reason_code": "X", "user": "u"}


async def test_adjustment_changes_on_hand_and_publishes_every_field(h, changed) -> None:
    out = await h.send(ADJ, adj(10), minutes=1, correlationid="ORD-1")
    [data] = changed(out)
    assert data == {
        "sku": "SKU-1",
        "location": "A",
        "on_hand": 10.0,
        "allocated": 0.0,
        "quarantined": 0.0,
        "in_transit": 0.0,
        "inbound": 0.0,
        "returns_pending": 0.0,
        "safety_stock": 0.0,
        "available_to_sell": 10.0,
        "available_to_promise": 10.0,
        "version": 1,
        "as_of": "2026-11-27T10:01:00Z",
    }
    assert out[0].correlationid == "ORD-1" and out[0].causationid is not None


async def test_version_grows_by_one_with_each_change(h, changed) -> None:
    versions = []
    for i in range(3):
        versions += [d["version"] for d in changed(await h.send(ADJ, adj(1), minutes=i))]
    assert versions == [1, 2, 3]


async def test_a_duplicate_event_id_has_no_effect(h) -> None:
    ev = h.event(ADJ, adj(5))
    await h.deliver(ev)
    assert await h.deliver(ev) == []
    assert h.pos("SKU-1", "A")["on_hand"] == 5


async def test_quarantine_and_release_move_the_quarantined_bucket(h) -> None:
    await h.send(ADJ, adj(10))
    await h.send("inventory.quarantined", {"location": "A", "sku": "SKU-1", "qty": 4})
    assert h.pos("SKU-1", "A")["quarantined"] == 4
    assert h.pos("SKU-1", "A")["available_to_sell"] == 6
    await h.send("inventory.released", {"location": "A", "sku": "SKU-1", "qty": 3})
    assert h.pos("SKU-1", "A")["quarantined"] == 1
    assert h.pos("SKU-1", "A")["on_hand"] == 10


async def test_allocation_and_deallocation_move_the_allocated_bucket(h) -> None:
    await h.send(ADJ, adj(10))
    line = {"line_id": "1", "sku": "SKU-1", "location": "A", "qty": 4}
    await h.send("order.allocated", {"order_id": "O1", "lines": [line]})
    assert h.pos("SKU-1", "A")["allocated"] == 4
    await h.send("order.deallocated", {"order_id": "O1", "lines": [{**line, "qty": 1}]})
    assert h.pos("SKU-1", "A")["allocated"] == 3
    assert h.pos("SKU-1", "A")["available_to_sell"] == 7


async def test_lines_for_the_same_position_are_summed_into_one_change(h, changed) -> None:
    lines = [{"line_id": str(i), "sku": "SKU-1", "location": "A", "qty": 2} for i in range(3)]
    out = await h.send("order.allocated", {"order_id": "O1", "lines": lines})
    assert [d["allocated"] for d in changed(out)] == [6.0]


async def test_shipment_lowers_on_hand_and_allocated(h) -> None:
    await h.send(ADJ, adj(10))
    alloc = {"line_id": "1", "sku": "SKU-1", "location": "A", "qty": 4}
    await h.send("order.allocated", {"order_id": "O1", "lines": [alloc]})
    ship = {
        "shipment_id": "SH1",
        "order_id": "O1",
        "location": "A",
        "carrier": "ups",
        "tracking_number": "1Z",
        "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 4}],
    }
    await h.send("shipment.shipped", ship)
    p = h.pos("SKU-1", "A")
    assert (p["on_hand"], p["allocated"], p["available_to_sell"]) == (6, 0, 6)


async def test_shipment_before_its_allocation_leaves_allocated_briefly_negative(h) -> None:
    ship = {"location": "A", "lines": [{"sku": "SKU-1", "qty": 2}]}
    await h.send("shipment.shipped", ship, minutes=2)
    assert h.pos("SKU-1", "A")["allocated"] == -2
    line = {"sku": "SKU-1", "location": "A", "qty": 2}
    await h.send("order.allocated", {"lines": [line]}, minutes=1)
    assert h.pos("SKU-1", "A")["allocated"] == 0


async def test_transfer_moves_stock_from_origin_on_hand_via_in_transit_to_destination(h) -> None:
    await h.send(ADJ, adj(10, location="A"))
    lines = [{"sku": "SKU-1", "qty": 4}]
    await h.send(
        "transfer.shipped",
        {"transfer_id": "T1", "from_location": "A", "to_location": "B", "lines": lines},
    )
    assert h.pos("SKU-1", "A")["on_hand"] == 6
    b = h.pos("SKU-1", "B")
    assert (b["on_hand"], b["in_transit"], b["available_to_promise"]) == (0, 4, 4)
    await h.send("transfer.received", {"transfer_id": "T1", "to_location": "B", "lines": lines})
    b = h.pos("SKU-1", "B")
    assert (b["on_hand"], b["in_transit"], b["available_to_sell"]) == (4, 0, 4)


async def test_receipt_adds_accepted_and_quarantined_units_on_hand_holding_the_quarantined(
    h,
) -> None:
    lines = [{"sku": "SKU-1", "qty_accepted": 8, "qty_quarantined": 2}]
    await h.send("receipt.confirmed", {"receipt_id": "R1", "location": "A", "lines": lines})
    p = h.pos("SKU-1", "A")
    assert (p["on_hand"], p["quarantined"], p["available_to_sell"]) == (10, 2, 8)


@pytest.mark.parametrize(
    ("type_", "field", "bucket"),
    [
        ("inbound.changed", "inbound_qty", "inbound"),
        ("returns.pending_changed", "pending_qty", "returns_pending"),
    ],
)
async def test_absolute_quantities_keep_the_newest_by_event_time(
    h, changed, type_, field, bucket
) -> None:
    await h.send(type_, {"sku": "SKU-1", "location": "A", field: 7}, minutes=5)
    out = await h.send(type_, {"sku": "SKU-1", "location": "A", field: 3}, minutes=1)
    assert out == [] and h.pos("SKU-1", "A")[bucket] == 7
    await h.send(type_, {"sku": "SKU-1", "location": "A", field: 2}, minutes=9)
    assert h.pos("SKU-1", "A")[bucket] == 2
    assert h.pos("SKU-1", "A")["available_to_promise"] == 2


async def test_returned_stock_arrives_on_hand_and_quarantined(h) -> None:
    await h.send(
        "return.stock_received", {"rma_id": "R", "location": "A", "sku": "SKU-1", "qty": 3}
    )
    p = h.pos("SKU-1", "A")
    assert (p["on_hand"], p["quarantined"], p["available_to_sell"]) == (3, 3, 0)


@pytest.mark.parametrize(
    ("disposition", "on_hand", "quarantined"),
    [("restock", 3, 0), ("refurbish", 3, 3), ("scrap", 0, 0), ("return_to_vendor", 0, 0)],
)
async def test_dispositions_release_remove_or_keep_returned_stock(
    h, changed, disposition, on_hand, quarantined
) -> None:
    data = {"rma_id": "R", "location": "A", "sku": "SKU-1", "qty": 3}
    await h.send("return.stock_received", data)
    out = await h.send("return.stock_dispositioned", {**data, "disposition": disposition})
    p = h.pos("SKU-1", "A")
    assert (p["on_hand"], p["quarantined"]) == (on_hand, quarantined)
    assert len(changed(out)) == (0 if disposition == "refurbish" else 1)


async def test_nothing_is_published_when_an_event_changes_no_number(h) -> None:
    assert await h.send(ADJ, adj(0)) == []
    assert (
        await h.send("inbound.changed", {"sku": "SKU-1", "location": "A", "inbound_qty": 0}) == []
    )


async def test_item_safety_stock_lowers_available_to_sell_of_its_locations(h, changed) -> None:
    await h.send(ADJ, adj(10))
    item = {"sku": "SKU-1", "base_uom": "EA", "uom_conversions": {}, "safety_stock": {"A": 3}}
    out = await h.send("item.updated", item, minutes=1)
    [data] = changed(out)
    assert (data["safety_stock"], data["available_to_sell"]) == (3.0, 7.0)


async def test_a_location_dropped_from_the_safety_stock_map_returns_to_zero(h) -> None:
    item = {"sku": "SKU-1", "base_uom": "EA", "safety_stock": {"A": 3, "B": 1}}
    await h.send("item.updated", item, minutes=1)
    await h.send("item.updated", {**item, "safety_stock": {"B": 1}}, minutes=2)
    assert h.pos("SKU-1", "A")["safety_stock"] == 0
    assert h.pos("SKU-1", "B")["safety_stock"] == 1


async def test_an_older_item_update_arriving_late_changes_nothing(h) -> None:
    item = {"sku": "SKU-1", "base_uom": "EA", "safety_stock": {"A": 3}}
    await h.send("item.updated", item, minutes=5)
    assert await h.send("item.updated", {**item, "safety_stock": {"A": 9}}, minutes=1) == []
    assert h.pos("SKU-1", "A")["safety_stock"] == 3


async def test_a_position_created_after_the_item_update_takes_its_safety_stock(h) -> None:
    await h.send("item.updated", {"sku": "SKU-1", "base_uom": "EA", "safety_stock": {"A": 2}})
    await h.send(ADJ, adj(10, location="A"), minutes=1)
    await h.send(ADJ, adj(10, location="B"), minutes=1)
    assert h.pos("SKU-1", "A")["available_to_sell"] == 8
    assert h.pos("SKU-1", "B")["available_to_sell"] == 10


async def test_allocation_beyond_available_to_sell_counts_an_oversell_after_commit(h) -> None:
    await h.send(ADJ, adj(5))
    before = metrics.OVERSELL_ATTEMPTS.labels("A")._value.get()
    line = {"sku": "SKU-1", "location": "A", "qty": 4}
    await h.send("order.allocated", {"lines": [line]})
    assert metrics.OVERSELL_ATTEMPTS.labels("A")._value.get() == before
    await h.send("order.allocated", {"lines": [line]})
    assert metrics.OVERSELL_ATTEMPTS.labels("A")._value.get() == before + 1
    assert h.pos("SKU-1", "A")["allocated"] == 8


async def test_positions_changed_metric_counts_published_changes_by_event_type(h) -> None:
    counter = metrics.POSITIONS_CHANGED.labels(ADJ)
    before = counter._value.get()
    await h.send(ADJ, adj(1))
    await h.send(ADJ, adj(0))
    assert counter._value.get() == before + 1


async def test_metrics_move_only_when_the_unit_of_work_commits(h) -> None:
    from availability.main import SERVICE
    from shared.service import Incoming
    from shared.uow import InMemoryUnitOfWork

    await h.send(ADJ, adj(1))
    ev = h.event("order.allocated", {"lines": [{"sku": "SKU-1", "location": "A", "qty": 5}]})
    route = SERVICE.route_for(ev.type)
    uow = InMemoryUnitOfWork("availability", h.store)
    msg = Incoming(ev, route.model.model_validate(ev.data), "erp.events", ev.type, ev.time)
    counter = metrics.OVERSELL_ATTEMPTS.labels("A")
    before = counter._value.get()
    await route.handler(msg, uow)
    assert counter._value.get() == before
    uow.commit()
    assert counter._value.get() == before + 1


async def test_event_lag_is_observed_per_event_type(h) -> None:
    hist = metrics.EVENT_LAG.labels("inventory.released")
    before = hist._sum.get()
    ev = h.event("inventory.released", {"location": "A", "sku": "SKU-1", "qty": 1})
    await h.deliver(ev, received_at=ev.time + timedelta(seconds=2.5))
    assert hist._sum.get() == before + 2.5
