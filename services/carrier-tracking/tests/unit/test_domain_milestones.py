"""Event-time rules: late, duplicate, unregistered and out-of-order scans; exceptions; terminals."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carrier_tracking.domain.tracking import (
    MAX_SCANS,
    Registration,
    Scan,
    TooManyScans,
    Tracking,
    current_status,
    history,
    record_scan,
    register,
    shipped_to_delivered_seconds,
)
from carrier_tracking.messages import TrackingUpdated

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
TN = "1Z999AA10123456784"


def scan(
    code: str, hour: float, *, carrier: str = "ups", eid: str | None = None, **kw: str
) -> Scan:
    t = T0 + timedelta(hours=hour)
    return Scan(carrier=carrier, native_code=code, time=t, event_id=eid or f"{code}@{hour}", **kw)


def reg(hour: float = 0, shipment: str = "SHP-1", order: str = "ORD-1") -> Registration:
    return Registration(
        shipment_id=shipment,
        order_id=order,
        carrier="ups",
        location="DC-EAST",
        shipped_at=T0 + timedelta(hours=hour),
        event_id=f"shipped-{shipment}",
    )


def feed(*items: Scan | Registration) -> tuple[Tracking, list[TrackingUpdated]]:
    state, out = Tracking(tracking_number=TN), []
    for item in items:
        if isinstance(item, Scan):
            state, events = record_scan(state, item)
        else:
            state, events = register(state, item)
        out += events
    return state, out


def milestone(state: Tracking) -> str | None:
    s = current_status(state)
    return s.milestone if s else None


def test_first_mapped_scan_sets_the_milestone_and_announces_it() -> None:
    state, events = feed(reg(), scan("MP", 1))
    assert milestone(state) == "label_created"
    assert [(e.milestone, e.order_id, e.at) for e in events] == [
        ("label_created", "ORD-1", T0 + timedelta(hours=1))
    ]


def test_history_is_sorted_by_scan_time_not_by_arrival() -> None:
    state, _ = feed(scan("AR", 5), scan("MP", 1), scan("OR", 3))
    assert [h.native_code for h in history(state)] == ["MP", "OR", "AR"]


def test_late_in_transit_never_overrides_delivered() -> None:
    state, events = feed(reg(), scan("OR", 1), scan("D", 10), scan("AR", 5))
    assert milestone(state) == "delivered"
    assert [e.milestone for e in events] == ["picked_up", "delivered"]
    assert [h.native_code for h in history(state)] == ["OR", "AR", "D"]


def test_late_scan_that_changes_nothing_announces_nothing() -> None:
    state, events = feed(scan("AR", 5), scan("DP", 3))
    assert milestone(state) == "in_transit"
    assert len(events) == 1


def test_in_transit_scan_after_out_for_delivery_does_not_move_it_back() -> None:
    state, events = feed(scan("OT", 5), scan("AR", 6))
    assert milestone(state) == "out_for_delivery"
    assert [e.milestone for e in events] == ["out_for_delivery"]


def test_duplicate_scan_under_a_new_event_id_is_dropped() -> None:
    state, events = feed(scan("AR", 2, eid="a"), scan("AR", 2, eid="b"), scan("ar", 2, eid="c"))
    assert len(state.scans) == 1
    assert len(events) == 1


def test_duplicates_keep_the_smallest_event_id_whatever_the_arrival_order() -> None:
    one, _ = feed(scan("AR", 2, eid="b", description="x"), scan("AR", 2, eid="a"))
    two, _ = feed(scan("AR", 2, eid="a"), scan("AR", 2, eid="b", description="x"))
    assert one == two
    assert one.scans[0].event_id == "a"


def test_same_code_at_another_time_is_a_new_scan() -> None:
    state, _ = feed(scan("AR", 2), scan("AR", 4))
    assert len(state.scans) == 2


def test_unregistered_scans_are_kept_and_announced_with_ids_when_shipment_shipped_arrives() -> None:
    state, events = feed(scan("OR", 1), scan("AR", 3))
    assert state.registration is None
    assert [(e.milestone, e.order_id) for e in events] == [
        ("picked_up", None),
        ("in_transit", None),
    ]
    state, joined = register(state, reg())
    assert [(e.milestone, e.shipment_id, e.order_id, e.native_code) for e in joined] == [
        ("in_transit", "SHP-1", "ORD-1", "AR")
    ]
    assert milestone(state) == "in_transit"


def test_shipment_shipped_without_scans_announces_nothing() -> None:
    state, events = feed(reg())
    assert state.registration is not None and events == []


def test_repeated_or_conflicting_shipment_shipped_keeps_the_earliest() -> None:
    state, events = feed(scan("OR", 1), reg(0, "SHP-1"), reg(0, "SHP-1"), reg(2, "SHP-9"))
    assert state.registration is not None and state.registration.shipment_id == "SHP-1"
    assert len(events) == 2
    earlier, _ = feed(reg(2, "SHP-9"), reg(0, "SHP-1"))
    assert earlier.registration == state.registration


def test_exception_then_delivery_ends_delivered() -> None:
    state, events = feed(reg(), scan("AR", 2), scan("CD", 3, carrier="fedex"), scan("D", 9))
    assert milestone(state) == "delivered"
    assert [(e.milestone, e.exception_reason) for e in events] == [
        ("in_transit", None),
        ("exception", "customs"),
        ("delivered", None),
    ]


def test_exception_clears_when_a_later_non_exception_scan_arrives() -> None:
    state, _ = feed(scan("10", 1, carrier="usps"), scan("22", 2, carrier="usps"))
    assert current_status(state).exception_reason == "address_problem"  # type: ignore[union-attr]
    state, cleared = record_scan(state, scan("07", 3, carrier="usps"))
    assert milestone(state) == "in_transit"
    assert [(e.milestone, e.previous_milestone) for e in cleared] == [("in_transit", "exception")]


def test_late_exception_older_than_a_later_scan_is_not_raised() -> None:
    state, events = feed(scan("AR", 1), scan("OT", 5), scan("X", 3))
    assert milestone(state) == "out_for_delivery"
    assert [e.milestone for e in events] == ["in_transit", "out_for_delivery"]


def test_a_second_exception_while_in_exception_is_announced() -> None:
    _, events = feed(scan("04", 1, carrier="usps"), scan("21", 2, carrier="usps"))
    assert [e.exception_reason for e in events] == ["refused", "address_problem"]


def test_lower_rank_scan_after_exception_clears_it_but_keeps_the_milestone() -> None:
    state, events = feed(scan("AR", 1), scan("X", 2), scan("MP", 3))
    status = current_status(state)
    assert status is not None
    assert (status.milestone, status.native_code, status.at) == (
        "in_transit",
        "MP",
        T0 + timedelta(hours=3),
    )
    assert [e.milestone for e in events] == ["in_transit", "exception", "in_transit"]


def test_exception_after_delivered_is_kept_in_history_but_ignored() -> None:
    state, events = feed(scan("D", 1), scan("X", 2))
    assert milestone(state) == "delivered" and len(events) == 1 and len(state.scans) == 2


def test_returned_to_sender_is_terminal() -> None:
    state, _ = feed(scan("RS", 4), scan("D", 6), scan("OT", 5))
    assert milestone(state) == "returned_to_sender"


def test_last_mile_steps_share_a_rank_so_the_latest_one_wins() -> None:
    state, events = feed(
        scan("OD", 1, carrier="fedex"),
        scan("DE", 2, carrier="fedex"),
        scan("HL", 3, carrier="fedex"),
    )
    assert milestone(state) == "available_for_pickup"
    state, events = feed(scan("59", 1, carrier="usps"), scan("02", 2, carrier="usps"))
    state, again = record_scan(state, scan("59", 26, carrier="usps"))
    assert [e.milestone for e in events + again] == [
        "out_for_delivery",
        "delivery_attempted",
        "out_for_delivery",
    ]


def test_unmapped_code_is_kept_flagged_and_leaves_the_milestone_unchanged() -> None:
    state, events = feed(scan("AR", 1), scan("Q7", 2))
    assert milestone(state) == "in_transit" and len(events) == 1
    last = history(state)[-1]
    assert (last.native_code, last.unmapped, last.milestone) == ("Q7", True, None)


def test_informational_code_is_mapped_but_moves_nothing() -> None:
    state, events = feed(scan("AR", 1), scan("NA", 2))
    assert milestone(state) == "in_transit" and len(events) == 1
    assert history(state)[-1].unmapped is False


def test_scans_sharing_a_timestamp_replay_the_further_step_last() -> None:
    state, _ = feed(scan("D", 1), scan("OT", 1), scan("AR", 1))
    assert milestone(state) == "delivered"


def test_previous_milestone_follows_scan_time_order() -> None:
    state, _ = feed(scan("AR", 3), scan("MP", 1), scan("OT", 5))
    assert current_status(state).previous == "in_transit"  # type: ignore[union-attr]


def test_too_many_scans_are_refused() -> None:
    state = Tracking(tracking_number=TN, scans=tuple(scan("AR", h / 10) for h in range(MAX_SCANS)))
    with pytest.raises(TooManyScans):
        record_scan(state, scan("AR", 999))
    same, _ = record_scan(state, scan("AR", 0, eid="~later"))
    assert same == state


def test_shipped_to_delivered_time_is_measured_once_when_both_are_known() -> None:
    before, _ = feed(scan("OR", 1), scan("D", 30))
    after, _ = register(before, reg(0))
    assert shipped_to_delivered_seconds(before, after) == 30 * 3600
    again, _ = record_scan(after, scan("FS", 31))
    assert shipped_to_delivered_seconds(after, again) is None


SAMPLE = [
    scan("MP", 0),
    scan("OR", 1),
    scan("AR", 2),
    scan("AR", 2, eid="dup"),
    scan("X", 3),
    scan("DP", 4),
    scan("Q7", 4.5),
    scan("OT", 5),
    scan("AR", 5.5),
    scan("D", 6),
    scan("X", 7),
    reg(0),
    reg(-1, "SHP-0"),
]


@settings(max_examples=200, deadline=None)
@given(st.permutations(SAMPLE))
def test_final_state_does_not_depend_on_arrival_order(items: list[Scan | Registration]) -> None:
    state, _ = feed(*items)
    expected, _ = feed(*SAMPLE)
    assert state == expected
    assert current_status(state) == current_status(expected)


def test_every_arrival_order_of_a_short_journey_ends_delivered() -> None:
    journey = [scan("OR", 1), scan("AR", 2), scan("X", 2.5), scan("OT", 3), scan("D", 4)]
    for order in itertools.permutations(journey):
        state, events = feed(reg(), *order)
        assert milestone(state) == "delivered"
        assert events[-1].milestone == "delivered"
