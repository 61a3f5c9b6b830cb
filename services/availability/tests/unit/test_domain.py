from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from availability.domain import position
from availability.domain.items import (
    Item,
    Stamp,
    UnknownUnit,
    convert,
    make_stamp,
    to_micro,
    to_units,
    update_item,
)
from availability.domain.position import Effect, Numbers, Position, PositionChanged, apply_effect
from availability.store import (
    item_from_doc,
    item_to_doc,
    position_from_doc,
    position_key,
    position_to_doc,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
U = 1_000_000


def stamp(minutes: float, event_id: str = "e") -> Stamp:
    return make_stamp(T0 + timedelta(minutes=minutes), event_id)


def item(**safety: float) -> Item:
    return Item(
        "SKU-1",
        "EA",
        (("CS", 12.0), ("KG", 0.5)),
        stamp(0, "item"),
        tuple(sorted((k, to_micro(v)) for k, v in safety.items())),
        stamp(0, "item"),
    )


def numbers(on_hand: float, allocated: float = 0, quarantined: float = 0, **kw: float) -> Numbers:
    vals = {k: to_micro(kw.get(k, 0)) for k in ("in_transit", "inbound", "returns_pending")}
    return Numbers(
        to_micro(on_hand),
        to_micro(allocated),
        to_micro(quarantined),
        safety_stock=to_micro(kw.get("safety_stock", 0)),
        **vals,
    )


def test_available_to_sell_is_on_hand_less_allocated_quarantined_and_safety_stock() -> None:
    n = numbers(100, allocated=30, quarantined=10, safety_stock=5)
    assert n.available_to_sell == 55 * U


def test_available_to_sell_is_floored_at_zero() -> None:
    assert numbers(10, allocated=30).available_to_sell == 0


def test_available_to_promise_adds_in_transit_inbound_and_returns_pending() -> None:
    n = numbers(10, allocated=30, in_transit=4, inbound=5, returns_pending=6)
    assert n.available_to_promise == 15 * U
    assert numbers(50, allocated=10, inbound=5).available_to_promise == 45 * U


def test_buckets_are_plain_sums_and_may_go_negative() -> None:
    pos, _ = apply_effect(
        Position("SKU-1", "A"), Effect(-5 * U, -3 * U, -2 * U, -U), stamp(1), item=None
    )
    n = pos.numbers()
    assert (n.on_hand, n.allocated, n.quarantined, n.in_transit) == (-5 * U, -3 * U, -2 * U, -U)
    assert n.available_to_sell == 0


def test_decimal_quantities_sum_exactly_in_any_order() -> None:
    a = sum(to_micro(x) for x in (0.1, 0.2, 0.3))
    b = sum(to_micro(x) for x in (0.3, 0.2, 0.1))
    assert a == b == 600_000
    assert to_units(a) == 0.6


def test_quantity_without_uom_is_in_base_units_and_needs_no_item() -> None:
    assert convert("SKU-1", 7, None, None) == 7 * U


def test_quantity_in_the_base_uom_converts_with_factor_one() -> None:
    assert convert("SKU-1", 7, "EA", item()) == 7 * U


def test_quantity_in_a_known_uom_is_multiplied_by_its_conversion() -> None:
    assert convert("SKU-1", 2, "CS", item()) == 24 * U
    assert convert("SKU-1", 3, "KG", item()) == 1_500_000


def test_unknown_uom_fails_with_a_reason_an_operator_can_act_on() -> None:
    with pytest.raises(UnknownUnit) as e:
        convert("SKU-1", 1, "PAL", item())
    assert str(e.value) == (
        "unknown unit of measure: no conversion from PAL to base unit for SKU-1; "
        "publish item.updated then replay"
    )


def test_uom_without_any_item_record_fails_as_unknown() -> None:
    with pytest.raises(UnknownUnit, match="no conversion from CS to base unit for SKU-1"):
        convert("SKU-1", 1, "CS", None)


def test_an_older_item_update_never_overwrites_a_newer_one() -> None:
    newer = update_item(
        None, sku="S", base_uom="EA", conversions={"CS": 6}, safety_stock={"A": 1}, stamp=stamp(5)
    )
    assert newer is not None
    older = update_item(
        newer[0], sku="S", base_uom="EA", conversions={"CS": 12}, safety_stock={}, stamp=stamp(1)
    )
    assert older is None


def test_an_older_safety_stock_map_still_applies_when_the_newer_update_had_none() -> None:
    newer = update_item(
        None, sku="S", base_uom="EA", conversions={"CS": 6}, safety_stock=None, stamp=stamp(5)
    )
    assert newer is not None
    older = update_item(
        newer[0], sku="S", base_uom="KG", conversions={}, safety_stock={"A": 2}, stamp=stamp(1)
    )
    assert older is not None
    item, changed = older
    assert (item.base_uom, item.factor("CS"), item.safety_for("A"), changed) == (
        "EA",
        6.0,
        2 * U,
        ("A",),
    )


def test_item_update_lists_locations_whose_safety_stock_changed() -> None:
    first = update_item(
        None, sku="S", base_uom="EA", conversions={}, safety_stock={"A": 5, "B": 1}, stamp=stamp(1)
    )
    assert first is not None and first[1] == ("A", "B")
    second = update_item(
        first[0], sku="S", base_uom="EA", conversions={}, safety_stock={"B": 1}, stamp=stamp(2)
    )
    assert second is not None and second[1] == ("A",)
    assert second[0].safety_for("A") == 0


def test_item_update_without_safety_stock_keeps_the_current_map() -> None:
    first = update_item(
        None, sku="S", base_uom="EA", conversions={}, safety_stock={"A": 5}, stamp=stamp(1)
    )
    assert first is not None
    second = update_item(
        first[0], sku="S", base_uom="EA", conversions={}, safety_stock=None, stamp=stamp(2)
    )
    assert second is not None
    assert second[0].safety_for("A") == 5 * U and second[1] == ()


def test_version_grows_by_one_per_change_and_as_of_is_the_latest_event_time() -> None:
    pos = Position("SKU-1", "A")
    pos, ev1 = apply_effect(pos, Effect(on_hand=5 * U), stamp(10, "a"), item=None)
    pos, ev2 = apply_effect(pos, Effect(on_hand=U), stamp(3, "b"), item=None)
    assert [e.position.version for e in ev1 + ev2 if isinstance(e, PositionChanged)] == [1, 2]
    assert pos.as_of == T0 + timedelta(minutes=10)


def test_a_change_that_leaves_the_numbers_equal_reports_nothing() -> None:
    pos, _ = apply_effect(Position("S", "A"), Effect(on_hand=5 * U), stamp(1, "a"), item=None)
    same, events = position.set_inbound(pos, 0, stamp(2, "b"), item=None)
    assert events == [] and same.version == pos.version


def test_safety_stock_comes_from_the_item_record_when_a_position_is_touched() -> None:
    pos, events = apply_effect(
        Position("SKU-1", "A"), Effect(on_hand=10 * U), stamp(1), item=item(A=4)
    )
    assert pos.safety_stock == 4 * U and pos.numbers().available_to_sell == 6 * U
    assert isinstance(events[0], PositionChanged)


def test_event_times_are_truncated_to_the_milliseconds_mongodb_keeps() -> None:
    s = make_stamp(datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC), "x")
    assert s.at.microsecond == 123000


def test_position_keys_of_distinct_pairs_never_collide() -> None:
    assert position_key("A|B", "C") != position_key("A", "B|C")
    assert position_key("SKU-1", "DC-EAST") == "SKU-1|DC-EAST"


def test_position_and_item_documents_round_trip_without_losing_state() -> None:
    pos = Position("SKU-1", "A")
    for i, eff in enumerate([Effect(on_hand=to_micro(0.1)), Effect(allocated=3 * U)]):
        pos, _ = apply_effect(pos, eff, stamp(i, f"e{i}"), item=item(A=2.5))
    pos, _ = position.count(pos, 7 * U, stamp(0.5, "c"), item=None)
    pos, _ = position.set_inbound(pos, to_micro(1.25), stamp(3, "i"), item=None)
    assert position_from_doc(position_to_doc(pos)) == pos
    it = item(A=2.5)
    assert item_from_doc(item_to_doc(it)) == it
