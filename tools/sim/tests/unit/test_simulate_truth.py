"""Ground truth from the contract's formulas, event by event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from distsync_sim.simulate import carriers, policy
from distsync_sim.simulate.events import ERP, WMS, SimEvent
from distsync_sim.simulate.truth import Replay, Truth
from distsync_sim.simulate.truth_orders import Fact, OrderFold

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


class Log:
    def __init__(self) -> None:
        self.events: list[SimEvent] = []

    def add(self, type: str, data: dict[str, Any], at_ms: int, exchange: str = WMS) -> SimEvent:
        ev = SimEvent(len(self.events), f"e{len(self.events):04d}", exchange, type, "wms/x", data)
        ev.time = T0 + timedelta(milliseconds=at_ms)
        self.events.append(ev)
        return ev

    def truth(self, order: list[int] | None = None) -> Truth:
        r = Replay()
        for i in order or range(len(self.events)):
            r.add(self.events[i])
        return r.run()


def item(log: Log, at: int = 0, safety: dict[str, int] | None = None) -> None:
    data: dict[str, Any] = {"sku": "A", "base_uom": "EA", "uom_conversions": {"CS": 12}}
    if safety is not None:
        data["safety_stock"] = safety
    log.add("item.updated", data, at, ERP)


def test_a_count_sets_on_hand_as_of_its_time_whatever_the_arrival_order():
    log = Log()
    item(log)
    log.add("inventory.adjusted", {"location": "L", "sku": "A", "qty_delta": 5}, 10)
    log.add("inventory.counted", {"location": "L", "sku": "A", "counted_qty": 2, "uom": "CS"}, 20)
    log.add("inventory.adjusted", {"location": "L", "sku": "A", "qty_delta": -3}, 30)
    for order in ([0, 1, 2, 3], [0, 3, 2, 1], [0, 2, 3, 1]):
        assert log.truth(order).positions[("A", "L")].on_hand == 21


def test_available_to_sell_floors_at_zero_and_promise_adds_the_supply_buckets():
    log = Log()
    item(log, safety={"L": 4})
    log.add("inventory.adjusted", {"location": "L", "sku": "A", "qty_delta": 10}, 10)
    log.add("inventory.quarantined", {"location": "L", "sku": "A", "qty": 3}, 11)
    log.add(
        "order.allocated",
        {"order_id": "O", "lines": [{"line_id": "1", "sku": "A", "location": "L", "qty": 6}]},
        12,
        ERP,
    )
    log.add(
        "transfer.shipped",
        {
            "transfer_id": "T",
            "from_location": "M",
            "to_location": "L",
            "lines": [{"sku": "A", "qty": 1, "uom": "CS"}],
        },
        13,
    )
    n = log.truth().positions[("A", "L")].numbers()
    assert n["available_to_sell"] == 0  # 10 - 6 - 3 - 4 < 0
    assert n["in_transit"] == 12
    assert n["available_to_promise"] == 12
    assert log.truth().positions[("A", "M")].on_hand == -12


def test_receipts_quarantine_damaged_over_tolerance_and_missing_lot_units():
    po = policy.Po("P", "L")
    po.lines["1"] = policy.PoLine("1", "A", Fraction(100), Fraction(10))
    po.lines["2"] = policy.PoLine("2", "B", Fraction(10), lot_tracked=True)
    got = policy.receive(
        po,
        [
            policy.ReceivedLine("A", Fraction(120), Fraction(4), "1"),
            policy.ReceivedLine("B", Fraction(10), po_line_id="2"),
            policy.ReceivedLine("C", Fraction(5)),
        ],
        at=1,
    )
    assert [(a.sku, a.on_hand, a.quarantined) for a in got] == [
        ("A", 120, 10),  # 4 damaged + 6 beyond 110 (damaged units are not accepted)
        ("B", 10, 10),  # lot-tracked, no lot
        ("C", 5, 5),  # not on the PO
    ]
    assert po.lines["1"].received == 120 and po.lines["1"].accepted == 110
    assert po.status == "received"


def test_a_receipt_after_the_cancellation_is_quarantined_and_counts_on_no_line():
    po = policy.Po("P", "L")
    po.lines["1"] = policy.PoLine("1", "A", Fraction(10))
    policy.receive(po, [policy.ReceivedLine("A", Fraction(4), po_line_id="1")], at=1)
    po.cancelled_at = 5
    late = policy.receive(po, [policy.ReceivedLine("A", Fraction(6), po_line_id="1")], at=9)
    assert (late[0].on_hand, late[0].quarantined) == (6, 6)
    assert po.lines["1"].received == 4 and po.status == "cancelled" and po.inbound() == {}


def _po_with_late_truck(log: Log) -> None:
    """PO of 10 A at L released at 0, 4 received at 2, cancelled at 5, 6 received at 9."""
    item(log)
    release = {
        "po_id": "P",
        "supplier_id": "S",
        "location": "L",
        "expected_date": "2026-12-01",
        "lines": [{"line_id": "1", "sku": "A", "qty": 10}],
    }
    log.add("purchase_order.released", release, 1, ERP)
    for rid, qty, at in (("R1", 4, 2), ("R2", 6, 9)):
        lines = [{"po_line_id": "1", "sku": "A", "qty_received": qty}]
        log.add(
            "receipt.recorded",
            {"receipt_id": rid, "location": "L", "po_id": "P", "lines": lines},
            at,
        )
    log.add("purchase_order.cancelled", {"po_id": "P"}, 5, ERP)


def test_a_late_truck_is_judged_by_event_time_even_when_it_arrives_before_the_cancellation():
    log = Log()
    _po_with_late_truck(log)
    truck_first = log.truth([0, 1, 2, 3, 4]).positions[("A", "L")].numbers()
    cancel_first = log.truth([0, 1, 2, 4, 3]).positions[("A", "L")].numbers()
    assert truck_first == cancel_first
    assert (truck_first["on_hand"], truck_first["quarantined"]) == (10, 6)


def test_a_count_after_a_purchase_receipt_already_holds_its_goods():
    log = Log()
    _po_with_late_truck(log)
    log.add("inventory.counted", {"location": "L", "sku": "A", "counted_qty": 3}, 3)
    n = log.truth().positions[("A", "L")].numbers()
    assert n["on_hand"] == 3 + 6  # R1 (at 2) is in the count (at 3), R2 (at 9) comes on top


def test_inbound_is_what_open_purchase_orders_still_expect_in_base_units():
    log = Log()
    item(log)
    log.add(
        "purchase_order.released",
        {
            "po_id": "P",
            "supplier_id": "S",
            "location": "L",
            "expected_date": "2026-12-01",
            "lines": [{"line_id": "1", "sku": "A", "qty": 5, "uom": "CS"}],
        },
        10,
        ERP,
    )
    log.add(
        "receipt.recorded",
        {
            "receipt_id": "R",
            "location": "L",
            "po_id": "P",
            "lines": [{"po_line_id": "1", "sku": "A", "qty_received": 2, "uom": "CS"}],
        },
        20,
    )
    log.add(
        "receipt.recorded",  # the WMS sends the same receipt again: counted once
        {
            "receipt_id": "R",
            "location": "L",
            "po_id": "P",
            "lines": [{"po_line_id": "1", "sku": "A", "qty_received": 2, "uom": "CS"}],
        },
        25,
    )
    n = log.truth().positions[("A", "L")].numbers()
    assert (n["on_hand"], n["inbound"]) == (24, 36)


def test_returns_pending_and_dispositions_follow_the_rma():
    log = Log()
    log.add(
        "return.authorized",
        {
            "rma_id": "R",
            "order_id": "O",
            "location": "L",
            "lines": [{"line_id": "1", "sku": "A", "qty": 5, "reason": "x"}],
        },
        10,
        ERP,
    )
    log.add(
        "return.received", {"rma_id": "R", "location": "L", "lines": [{"sku": "A", "qty": 3}]}, 20
    )
    log.add(
        "return.inspected",
        {
            "rma_id": "R",
            "location": "L",
            "lines": [
                {"sku": "A", "qty": 1, "disposition": "restock"},
                {"sku": "A", "qty": 1, "disposition": "scrap"},
                {"sku": "A", "qty": 1, "disposition": "refurbish"},
            ],
        },
        30,
    )
    t = log.truth()
    n = t.positions[("A", "L")].numbers()
    assert (n["on_hand"], n["quarantined"], n["returns_pending"]) == (2, 1, 2)
    assert [s for _, s in t.rma_statuses["R"]] == ["authorized", "partially_received", "inspected"]


def fold(*facts: tuple[str, dict[str, Any]], system: str = "erp") -> OrderFold:
    f = OrderFold()
    for i, (kind, data) in enumerate(facts):
        f.step(Fact(i, f"f{i:03d}", kind, data, system))
    return f


CREATED = ("order.created", {"lines": [{"line_id": "1", "qty": 4}, {"line_id": "2", "qty": 2}]})


def test_a_split_order_is_delivered_only_when_every_shipment_is():
    ship = [
        (
            "shipment.shipped",
            {"shipment_id": "S1", "tracking_number": "T1", "lines": [{"line_id": "1", "qty": 4}]},
        ),
        (
            "shipment.shipped",
            {"shipment_id": "S2", "tracking_number": "T2", "lines": [{"line_id": "2", "qty": 2}]},
        ),
    ]
    one = ("tracking", {"tracking_number": "T1", "milestone": "delivered"})
    two = ("tracking", {"tracking_number": "T2", "milestone": "delivered"})
    assert fold(CREATED, *ship, one).status() == "shipped"
    assert fold(CREATED, *ship, one, two).status() == "delivered"


def test_a_carrier_exception_holds_until_the_next_scan_of_that_shipment():
    ship = (
        "shipment.shipped",
        {
            "shipment_id": "S1",
            "tracking_number": "T1",
            "lines": [{"line_id": "1", "qty": 4}, {"line_id": "2", "qty": 2}],
        },
    )
    exc = ("tracking", {"tracking_number": "T1", "milestone": "exception", "reason": "weather"})
    ok = ("tracking", {"tracking_number": "T1", "milestone": "in_transit"})
    assert fold(CREATED, ship, exc).status() == "exception"
    assert fold(CREATED, ship, exc, ok).status() == "shipped"


def test_a_backorder_after_a_short_pick_shows_backordered_within_the_allocation_tier():
    alloc = ("order.allocated", {"lines": [{"line_id": "1", "qty": 4}, {"line_id": "2", "qty": 2}]})
    dealloc = ("order.deallocated", {"lines": [{"line_id": "1", "qty": 1}]})
    bo = ("order.backordered", {"lines": [{"line_id": "1", "qty": 1}]})
    assert fold(CREATED, alloc).status() == "allocated"
    assert fold(CREATED, alloc, dealloc, bo).status() == "backordered"


def test_a_credit_hold_is_an_exception_until_credit_is_released():
    hold = ("order.status_reported", {"native_status": "credit_hold", "reason": "limit"})
    release = ("order.status_reported", {"native_status": "credit_released"})
    assert fold(CREATED, hold).status() == "exception"
    assert fold(CREATED, hold, release).status() == "credit_approved"


def test_cancelled_and_returned_are_terminal():
    cancel = ("order.cancelled", {})
    alloc = ("order.allocated", {"lines": [{"line_id": "1", "qty": 4}]})
    assert fold(CREATED, cancel, alloc).status() == "cancelled"
    assert fold(CREATED, ("return", {"status": "received"}), alloc).status() == "returned"


def test_carrier_replay_ignores_late_scans_and_clears_exceptions_on_the_next_scan():
    scans = [(1, "ups", "M"), (2, "ups", "I"), (3, "ups", "X"), (4, "ups", "O"), (5, "ups", "D")]
    final, changes = carriers.replay(list(reversed(scans)))
    assert final.milestone == "delivered"
    assert [c.milestone for c in changes] == [
        "label_created",
        "in_transit",
        "exception",
        "out_for_delivery",
        "delivered",
    ]
    stuck, _ = carriers.replay(scans[:3])
    assert (stuck.milestone, stuck.reason) == ("exception", None)  # UPS says why only in text
    bad_address, _ = carriers.replay([(1, "dhl", "PU"), (2, "dhl", "BA")])
    assert (bad_address.milestone, bad_address.reason) == ("exception", "address_problem")
