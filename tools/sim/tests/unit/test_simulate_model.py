"""The simulated distributor: reproducible, physically consistent, and agreeing with the truth
replay of what it publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from distsync_sim.simulate.events import SimEvent
from distsync_sim.simulate.model import SimConfig, World
from distsync_sim.simulate.truth import Replay
from shared.topology import all_services

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def generate(seed: int, n: int, skus: int = 120) -> tuple[World, list[SimEvent]]:
    w = World(SimConfig(seed=seed, skus=skus))
    evs = w.bootstrap()
    while len(evs) < n:
        evs += w.step()
    by_id: dict[str, SimEvent] = {}
    for i, e in enumerate(evs):
        e.time = (
            by_id[e.same_time_as].time if e.same_time_as else T0 + timedelta(milliseconds=3 * i)
        )
        by_id[e.id] = e
    return w, evs


def test_the_same_seed_gives_the_same_events_ids_included():
    _, a = generate(7, 3000)
    _, b = generate(7, 3000)
    assert [(e.id, e.type, e.data) for e in a] == [(e.id, e.type, e.data) for e in b]


def test_another_seed_gives_another_day():
    _, a = generate(7, 2000)
    _, b = generate(8, 2000)
    assert [e.data for e in a[-500:]] != [e.data for e in b[-500:]]


def test_the_stream_covers_every_process_the_issue_names():
    _, evs = generate(3, 15000)
    types = {e.type for e in evs}
    assert types >= {
        "item.updated",
        "order.created",
        "order.allocated",
        "order.backordered",
        "order.deallocated",
        "order.cancelled",
        "order.status_reported",
        "pick.completed",
        "pack.completed",
        "shipment.shipped",
        "tracking.reported",
        "purchase_order.released",
        "purchase_order.cancelled",
        "asn.received",
        "receipt.recorded",
        "transfer.shipped",
        "transfer.received",
        "inventory.counted",
        "inventory.adjusted",
        "inventory.quarantined",
        "inventory.released",
        "return.authorized",
        "return.received",
        "return.inspected",
    }
    receipts = [ln for e in evs if e.type == "receipt.recorded" for ln in e.data["lines"]]
    assert any(ln.get("qty_damaged") for ln in receipts)
    assert any(ln.get("uom") == "CS" for ln in receipts)
    assert any(ln.get("substitute_for_sku") for ln in receipts)
    dispositions = {
        ln["disposition"] for e in evs if e.type == "return.inspected" for ln in e.data["lines"]
    }
    assert dispositions == {"restock", "refurbish", "scrap", "return_to_vendor"}
    shipments_per_order: dict[str, int] = {}
    for e in evs:
        if e.type == "shipment.shipped":
            oid = e.data["order_id"]
            shipments_per_order[oid] = shipments_per_order.get(oid, 0) + 1
    assert max(shipments_per_order.values()) >= 2  # split shipments
    channels = {e.data["channel"] for e in evs if e.type == "order.created"}
    assert channels == {"web", "edi", "phone", "counter"}


def test_every_event_is_one_some_service_is_bound_for():
    _, evs = generate(5, 5000)
    bound = {key for s in all_services() for key in s.bindings()}
    assert {(e.exchange, e.type) for e in evs} <= bound


def test_stock_never_goes_negative_and_agrees_with_the_replayed_truth():
    w, evs = generate(11, 12000)
    replay = Replay()
    for e in evs:
        replay.add(e)
    truth = replay.run()
    for key, s in w.stock.items():
        assert min(s.on_hand, s.allocated, s.quarantined, s.in_transit, s.staged) >= 0, key
        n = truth.positions[key].numbers() if key in truth.positions else None
        if n is None:
            assert (s.on_hand, s.allocated, s.quarantined, s.in_transit) == (0, 0, 0, 0), key
            continue
        got = (n["on_hand"], n["allocated"], n["quarantined"], n["in_transit"], n["inbound"])
        assert got == (s.on_hand, s.allocated, s.quarantined, s.in_transit, s.inbound), key


def test_cycle_counts_are_also_taken_where_purchase_receipts_landed():
    """receipt.confirmed carries `received_at`, so counts and purchase receipts can be ordered."""
    _, evs = generate(13, 12000)
    received: dict[tuple[str, str], datetime] = {}
    counted_after = 0
    for e in sorted(evs, key=lambda e: (e.time or T0, e.id)):
        if e.type == "receipt.recorded":
            for ln in e.data["lines"]:
                received.setdefault((ln["sku"], e.data["location"]), e.time or T0)
        elif e.type == "inventory.counted":
            counted_after += (e.data["sku"], e.data["location"]) in received
    assert counted_after > 0
