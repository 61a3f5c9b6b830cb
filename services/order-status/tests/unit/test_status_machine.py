"""The status machine and the line roll-up, on whole histories folded in event-time order."""

from __future__ import annotations

from typing import Any


def test_happy_path_goes_from_received_to_delivered_with_each_milestone_timed(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all(kit.happy(h))
    assert kit.statuses(view) == [
        "received",
        "credit_approved",
        "allocated",
        "picked",
        "packed",
        "shipped",
        "delivered",
    ]
    assert view.status == "delivered"
    delivered = view.milestones[-1]
    assert delivered.at == kit.t(1500)
    assert delivered.source == "distsync/carrier-tracking"
    assert delivered.native_status == "UPS-DELIVERED"
    (s1,) = view.shipments
    assert (s1.shipment_id, s1.tracking_number, s1.carrier) == ("S1", "1Z1", "ups")
    assert s1.milestone == "delivered" and s1.delivered_at == kit.t(1500)
    assert [(ln.line_id, ln.shipped, ln.delivered) for ln in view.lines] == [
        ("L1", 10, 10),
        ("L2", 5, 5),
    ]


def test_every_status_keeps_event_time_source_and_native_status(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all(kit.happy(h))
    approved = next(ms for ms in view.milestones if ms.status == "credit_approved")
    assert approved.at == kit.t(1)
    assert approved.source == "erp/sap"
    assert approved.native_status == "Credit Approved"
    assert [e.at for e in view.timeline] == sorted(e.at for e in view.timeline)
    assert all(e.received_at > e.at for e in view.timeline)


def test_partial_allocation_rolls_up_to_partially_allocated(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all([h.created(0, L1=10, L2=5), h.allocated(1, L1=10, L2=2)])
    assert view.status == "partially_allocated"
    assert [(ln.ordered, ln.allocated) for ln in view.lines] == [(10, 10), (5, 2)]


def test_backorder_then_allocation_ends_allocated_then_picked(kit: Any) -> None:
    h = kit.History()
    facts = kit.backorder(h)
    assert kit.fold_all(facts[:3]).status == "backordered"
    assert kit.fold_all(facts[:3]).lines[1].backordered == 5
    after_stock = kit.fold_all(facts[:4])
    assert after_stock.status == "allocated"
    assert after_stock.lines[1].backordered == 0
    assert kit.fold_all(facts).status == "picked"


def test_deallocation_and_backorder_after_allocation_shows_backordered(kit: Any) -> None:
    h = kit.History()
    facts = [
        h.created(0, L1=10),
        h.allocated(1, L1=10),
        h.deallocated(2, L1=10, reason="damaged stock"),
        h.backordered(2.5, L1=10),
    ]
    assert kit.statuses(kit.fold_all(facts)) == ["received", "allocated", "backordered"]


def test_partial_pick_keeps_order_allocated_until_every_line_is_picked(kit: Any) -> None:
    h = kit.History()
    facts = [h.created(0, L1=10, L2=5), h.allocated(1, L1=10, L2=5), h.picked(2, L1=6)]
    partial = kit.fold_all(facts)
    assert partial.status == "allocated"
    assert [ln.picked for ln in partial.lines] == [6, 0]
    done = kit.fold_all([*facts, h.picked(3, L1=4), h.picked(4, L2=5)])
    assert done.status == "picked"
    assert done.milestones[-1].at == kit.t(4)


def test_split_shipment_is_partially_shipped_until_the_second_shipment(kit: Any) -> None:
    h = kit.History()
    facts = kit.split(h)
    assert kit.fold_all(facts[:4]).status == "partially_shipped"
    both = kit.fold_all(facts[:5])
    assert both.status == "shipped"
    assert [s.shipment_id for s in both.shipments] == ["S1", "S2"]
    assert [s.tracking_number for s in both.shipments] == ["1Z1", "1Z2"]


def test_split_shipment_is_delivered_only_when_both_shipments_are_delivered(kit: Any) -> None:
    h = kit.History()
    facts = kit.split(h)
    assert kit.fold_all(facts[:6]).status == "shipped"
    view = kit.fold_all(facts)
    assert view.status == "delivered"
    assert view.milestones[-1].at == kit.t(130)


def test_delivery_exception_carries_reason_and_clears_on_delivery(kit: Any) -> None:
    h = kit.History()
    facts = kit.split(h)
    during = kit.fold_all(facts[:7])
    assert during.status == "exception"
    assert during.reason == "address not found"
    assert during.shipments[1].exception_reason == "address not found"
    after = kit.fold_all(facts)
    assert after.status == "delivered" and after.reason is None
    assert kit.statuses(after)[-3:] == ["shipped", "exception", "delivered"]


def test_exception_on_one_shipment_is_not_cleared_by_the_other_shipment(kit: Any) -> None:
    h = kit.History()
    facts = [
        h.created(0, L1=1, L2=1),
        h.shipped(1, "S1", "1Z1", L1=1),
        h.shipped(1, "S2", "1Z2", L2=1),
        h.scan(2, "exception", "1Z2", "S2", reason="damaged"),
        h.scan(3, "delivered", "1Z1", "S1"),
    ]
    view = kit.fold_all(facts)
    assert view.status == "exception" and view.reason == "damaged"


def test_credit_hold_is_an_exception_cleared_by_the_next_milestone(kit: Any) -> None:
    h = kit.History()
    facts = [h.created(0), h.reported(1, "CREDIT-HOLD", reason="limit exceeded")]
    held = kit.fold_all(facts)
    assert (held.status, held.reason) == ("exception", "limit exceeded")
    assert kit.fold_all([*facts, h.reported(2, "credit approved")]).status == "credit_approved"


def test_cancellation_is_terminal(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all(kit.cancel(h))
    assert view.status == "cancelled" and view.reason == "customer request"
    assert view.timeline[-1].type == "pick.completed"
    assert view.timeline[-1].status == "cancelled"


def test_cancellation_after_shipment_is_recorded_but_status_kept(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all([h.created(0), h.shipped(1, L1=10), h.cancelled(2)])
    assert view.status == "shipped"
    assert "status kept" in (view.timeline[-1].note or "")


def test_return_received_makes_order_returned_and_later_statuses_are_recorded(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all(kit.returned(h))
    assert kit.statuses(view)[-2:] == ["delivered", "returned"]
    assert view.milestones[-1].at == kit.t(4000)
    assert view.milestones[-1].native_status == "received"
    assert [e.native_status for e in view.timeline[-3:]] == ["authorized", "received", "completed"]


def test_lagging_source_reporting_an_earlier_milestone_does_not_move_order_back(kit: Any) -> None:
    h = kit.History()
    facts = [*kit.happy(h)[:6], h.reported(70, "released", source="erp/sap")]
    view = kit.fold_all(facts)
    assert view.status == "shipped"
    assert view.timeline[-1].mapped_status == "allocated"


def test_reported_statuses_without_quantities_still_move_the_order(kit: Any) -> None:
    h = kit.History()
    facts = [
        h.reported(0, "booked"),
        h.reported(1, "waved", source="wms/dc-east"),
        h.reported(2, "manifested", source="wms/dc-east"),
        h.reported(3, "in transit", source="tms/otm"),
        h.reported(4, "POD", source="tms/otm"),
    ]
    assert kit.statuses(kit.fold_all(facts)) == [
        "received",
        "allocated",
        "packed",
        "shipped",
        "delivered",
    ]


def test_line_level_reports_move_the_order_only_when_every_line_reached_them(kit: Any) -> None:
    h = kit.History()
    facts = [h.created(0, L1=1, L2=1), h.reported(1, "picked", "wms/dc", line_id="L1")]
    assert kit.fold_all(facts).status == "received"
    view = kit.fold_all([*facts, h.reported(2, "picked", "wms/dc", line_id="L2")])
    assert view.status == "picked"
    assert [ln.native_status for ln in view.lines] == ["picked", "picked"]


def test_scan_without_shipment_id_is_matched_by_tracking_number(kit: Any) -> None:
    h = kit.History()
    facts = [h.created(0), h.shipped(1, "S1", "1Z1", L1=10), h.scan(2, "delivered", "1Z1", None)]
    view = kit.fold_all(facts)
    assert view.status == "delivered"
    assert len(view.shipments) == 1


def test_exception_after_delivery_holds_until_a_later_scan_of_that_shipment(kit: Any) -> None:
    h = kit.History()
    facts = [
        h.created(0),
        h.shipped(1, L1=10),
        h.scan(2, "delivered"),
        h.scan(3, "exception", reason="damaged on arrival"),
    ]
    view = kit.fold_all(facts)
    assert (view.status, view.reason) == ("exception", "damaged on arrival")
    assert view.shipments[0].delivered_at == kit.t(2)
    cleared = kit.fold_all([*facts, h.scan(4, "available_for_pickup")])
    assert cleared.status == "delivered"
    assert cleared.shipments[0].milestone == "delivered"
    assert cleared.shipments[0].exception_reason is None


def test_label_scanned_before_the_shipment_report_is_the_same_shipment(kit: Any) -> None:
    h = kit.History()
    facts = [
        h.created(0),
        h.scan(1, "label_created", "1Z1", None),
        h.shipped(2, "S1", "1Z1", L1=10),
        h.scan(3, "delivered", "1Z1", "S1"),
    ]
    view = kit.fold_all(facts)
    assert [(s.shipment_id, s.tracking_number) for s in view.shipments] == [("S1", "1Z1")]
    assert view.status == "delivered"


def test_same_shipment_reported_by_wms_and_tms_is_counted_once(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all([h.created(0, L1=10), h.shipped(1, L1=5), h.shipped(2, L1=5)])
    assert view.status == "partially_shipped"
    assert view.lines[0].shipped == 5
