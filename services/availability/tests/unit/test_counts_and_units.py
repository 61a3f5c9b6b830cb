"""Cycle counts (on-hand as of their event time) and unit-of-measure conversion."""

from __future__ import annotations

import pytest

from availability import metrics
from availability.domain.items import UnknownUnit
from availability.settings import AvailabilitySettings
from shared.errors import PermanentError, Rejected

ADJ = "inventory.adjusted"
COUNT = "inventory.counted"
ITEM = {"sku": "SKU-1", "base_uom": "EA", "uom_conversions": {"CS": 12}}


def adj(qty: float, uom: str | None = None) -> dict[str, object]:
    d: dict[str, object] = {"location": "A", "sku": "SKU-1", "qty_delta": qty, "reason_code": "X"}
    if uom:
        d["uom"] = uom
    return d


def count(qty: float, uom: str | None = None) -> dict[str, object]:
    d: dict[str, object] = {"location": "A", "sku": "SKU-1", "counted_qty": qty, "user": "u"}
    if uom:
        d["uom"] = uom
    return d


async def test_a_count_sets_on_hand_and_reports_the_variance(h, changed, variances) -> None:
    await h.send(ADJ, adj(10), minutes=1)
    out = await h.send(COUNT, count(8), minutes=2)
    assert variances(out) == [
        {
            "sku": "SKU-1",
            "location": "A",
            "expected_on_hand": 10.0,
            "counted_on_hand": 8.0,
            "variance": -2.0,
            "counted_at": "2026-11-27T10:02:00Z",
        }
    ]
    assert [d["on_hand"] for d in changed(out)] == [8.0]


async def test_movements_after_the_count_time_stay_on_top_even_if_they_arrived_first(
    h, variances
) -> None:
    await h.send(ADJ, adj(10), minutes=1)
    await h.send(ADJ, adj(-3), minutes=5)
    out = await h.send(COUNT, count(9), minutes=3)
    assert variances(out)[0]["expected_on_hand"] == 10.0
    assert h.pos("SKU-1", "A")["on_hand"] == 6


async def test_a_movement_older_than_the_count_arriving_late_does_not_change_on_hand(h) -> None:
    await h.send(COUNT, count(9), minutes=3)
    assert await h.send(ADJ, adj(5), minutes=2) == []
    assert h.pos("SKU-1", "A")["on_hand"] == 9


async def test_a_late_shipment_older_than_the_count_still_releases_its_allocation(h) -> None:
    line = {"sku": "SKU-1", "location": "A", "qty": 2}
    await h.send("order.allocated", {"lines": [line]}, minutes=1)
    await h.send(COUNT, count(9), minutes=3)
    await h.send("shipment.shipped", {"location": "A", "lines": [line]}, minutes=2)
    p = h.pos("SKU-1", "A")
    assert (p["on_hand"], p["allocated"]) == (9, 0)


async def test_a_count_older_than_the_latest_count_changes_nothing(h) -> None:
    await h.send(COUNT, count(9), minutes=5)
    await h.send(ADJ, adj(1), minutes=6)
    assert await h.send(COUNT, count(50), minutes=4) == []
    assert h.pos("SKU-1", "A")["on_hand"] == 10


async def test_a_count_equal_to_on_hand_reports_zero_variance_and_no_change(
    h, changed, variances
) -> None:
    await h.send(ADJ, adj(4), minutes=1)
    out = await h.send(COUNT, count(4), minutes=2)
    assert changed(out) == [] and variances(out)[0]["variance"] == 0.0


async def test_the_movement_log_is_pruned_at_each_count(h) -> None:
    for i in range(3):
        await h.send(ADJ, adj(1), minutes=i)
    await h.send(ADJ, adj(1), minutes=10)
    await h.send(COUNT, count(2), minutes=5)
    assert [m["delta"] for m in h.doc("SKU-1", "A")["movements"]] == [1.0]
    assert h.pos("SKU-1", "A")["on_hand"] == 3


async def test_count_variance_is_observed_by_location(h) -> None:
    hist = metrics.COUNT_VARIANCE.labels("A")
    before = hist._sum.get()
    await h.send(ADJ, adj(10), minutes=1)
    await h.send(COUNT, count(7), minutes=2)
    assert hist._sum.get() == before + 3


async def test_a_count_older_than_the_folded_history_is_rejected(harness) -> None:
    h = harness(AvailabilitySettings(availability_movement_log_max=10))
    for i in range(15):
        await h.send(ADJ, adj(1), minutes=i)
    assert len(h.doc("SKU-1", "A")["movements"]) == 10
    assert h.pos("SKU-1", "A")["on_hand"] == 15
    with pytest.raises(Rejected, match="older than the movement history kept"):
        await h.send(COUNT, count(3), minutes=2.5)
    await h.send(COUNT, count(3), minutes=9.5)
    assert h.pos("SKU-1", "A")["on_hand"] == 8


async def test_a_late_movement_within_the_folded_history_still_adds_to_on_hand(harness) -> None:
    h = harness(AvailabilitySettings(availability_movement_log_max=10))
    for i in range(15):
        await h.send(ADJ, adj(1), minutes=i)
    await h.send(ADJ, adj(1), minutes=0.5)
    assert h.pos("SKU-1", "A")["on_hand"] == 16


async def test_movements_older_than_the_window_before_the_newest_are_folded(harness) -> None:
    """A position that is never counted keeps only its recent movements (it is rewritten with
    its log on every event). Folding leaves on-hand as it was; a count can still be placed
    after the folded movements, and one older than them is rejected."""
    h = harness(AvailabilitySettings(availability_movement_window_s=600))  # 10 minutes
    for minute in (0, 1, 2, 30, 31, 45):
        await h.send(ADJ, adj(1), minutes=minute)
    doc = h.doc("SKU-1", "A")
    assert [m["delta"] for m in doc["movements"]] == [1.0]  # only minute 45 is within 10 min
    assert doc["on_hand_base"] == 5 and h.pos("SKU-1", "A")["on_hand"] == 6
    await h.send(ADJ, adj(2), minutes=10)  # late, before the folded ones: into the base
    assert h.pos("SKU-1", "A")["on_hand"] == 8
    with pytest.raises(Rejected, match="older than the movement history kept"):
        await h.send(COUNT, count(3), minutes=20)
    await h.send(COUNT, count(3), minutes=40)  # after the folded history: the 45 stays on top
    assert h.pos("SKU-1", "A")["on_hand"] == 4


async def test_a_slow_position_takes_a_late_count_however_old(harness) -> None:
    """Only movements are folded, not time: with nothing moving in between, a count that
    arrives long after its event time is placed exactly."""
    h = harness(AvailabilitySettings(availability_movement_window_s=600))
    await h.send(ADJ, adj(5), minutes=0)
    await h.send(ADJ, adj(1), minutes=300)  # folds the first movement
    await h.send(COUNT, count(4), minutes=200)
    assert h.pos("SKU-1", "A")["on_hand"] == 5


async def test_a_quantity_in_an_unknown_unit_fails_and_nothing_is_saved(h) -> None:
    with pytest.raises(UnknownUnit, match="no conversion from CS to base unit for SKU-1"):
        await h.send(ADJ, adj(2, "CS"))
    assert h.doc("SKU-1", "A") is None and h.published == []


def test_an_unknown_unit_is_retried_first_and_dead_lettered_as_rejected_at_the_end() -> None:
    """Another replica may still hold the item.updated that defines the unit."""
    assert not issubclass(UnknownUnit, PermanentError)
    assert UnknownUnit.kind == "rejected"


async def test_a_failed_unit_succeeds_when_retried_after_the_conversion_arrives(h) -> None:
    ev = h.event(ADJ, adj(2, "CS"), minutes=2)
    with pytest.raises(UnknownUnit):
        await h.deliver(ev)
    await h.send("item.updated", ITEM, minutes=1)
    await h.deliver(ev)
    assert h.pos("SKU-1", "A")["on_hand"] == 24


async def test_a_line_in_an_unknown_unit_rejects_the_whole_multi_line_event(h) -> None:
    await h.send("item.updated", ITEM)
    lines = [
        {"sku": "SKU-1", "location": "A", "qty": 1, "uom": "CS"},
        {"sku": "SKU-1", "location": "B", "qty": 1, "uom": "PAL"},
    ]
    with pytest.raises(UnknownUnit, match="PAL"):
        await h.send("order.allocated", {"lines": lines})
    assert h.doc("SKU-1", "A") is None


async def test_quantities_in_the_base_unit_or_a_known_unit_are_converted(h) -> None:
    await h.send("item.updated", ITEM)
    await h.send(ADJ, adj(2, "CS"), minutes=1)
    await h.send(ADJ, adj(3, "EA"), minutes=2)
    await h.send(ADJ, adj(1), minutes=3)
    assert h.pos("SKU-1", "A")["on_hand"] == 28


async def test_a_count_in_cases_is_converted_to_base_units(h, variances) -> None:
    await h.send("item.updated", ITEM)
    out = await h.send(COUNT, count(2, "CS"), minutes=1)
    assert variances(out)[0]["counted_on_hand"] == 24.0


def confirmed(qty: float, received_at: str | None = None) -> dict[str, object]:
    d: dict[str, object] = {
        "receipt_id": "R-1",
        "location": "A",
        "lines": [{"sku": "SKU-1", "qty_accepted": qty, "qty_quarantined": 0}],
    }
    if received_at:
        d["received_at"] = received_at
    return d


async def test_goods_a_count_already_saw_are_not_added_again_when_confirmed_after_it(h) -> None:
    await h.send(COUNT, count(10), minutes=5)
    await h.send("receipt.confirmed", confirmed(10, "2026-11-27T10:02:00Z"), minutes=8)
    assert h.pos("SKU-1", "A")["on_hand"] == 10


async def test_goods_received_after_the_count_come_on_top_of_it(h) -> None:
    await h.send("receipt.confirmed", confirmed(10, "2026-11-27T10:06:00Z"), minutes=8)
    await h.send(COUNT, count(10), minutes=5)
    assert h.pos("SKU-1", "A")["on_hand"] == 20


async def test_a_confirmation_without_received_at_counts_from_its_own_time(h) -> None:
    await h.send(COUNT, count(10), minutes=5)
    await h.send("receipt.confirmed", confirmed(10), minutes=8)
    await h.send("receipt.confirmed", confirmed(3), minutes=4)
    assert h.pos("SKU-1", "A")["on_hand"] == 20
