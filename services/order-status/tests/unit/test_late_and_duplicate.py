"""Every event arriving late, or twice, ends in the same order as arriving in event order."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from order_status.domain.mappings import DEFAULTS
from order_status.domain.order import record
from order_status.domain.ranks import RANK


def progress_ranks(announced: list[Any]) -> list[int]:
    return [RANK[c.status] for c in announced if c.status in RANK]


def never_backwards(ranks: list[int]) -> bool:
    return all(b >= a or a == b == 2 for a, b in pairwise(ranks))


def test_each_event_arriving_last_lands_in_its_place(kit: Any, each_event: Any) -> None:
    name, i = each_event
    facts = kit.SCENARIOS[name](kit.History())
    late = [*facts[:i], *facts[i + 1 :], facts[i]]
    order, announced = kit.arrive(late)
    assert order.view == kit.fold_all(facts)
    assert [e.event_id for e in order.view.timeline] == [f.id for f in facts]
    assert never_backwards(progress_ranks(announced))


def test_each_event_arriving_twice_has_the_effect_of_once(kit: Any, each_event: Any) -> None:
    name, i = each_event
    facts = kit.SCENARIOS[name](kit.History())
    in_order, _ = kit.arrive(facts)
    twice, announced = kit.arrive([*facts[: i + 1], facts[i], *facts[i + 1 :], facts[i]])
    assert twice.view == in_order.view
    assert len(twice.facts) == len(facts)
    assert [c.status for c in announced] == kit.statuses(in_order.view)


def test_late_pick_event_does_not_move_shipped_order_back(kit: Any) -> None:
    h = kit.History()
    created, pick, ship = h.created(0), h.picked(5, L1=10), h.shipped(9, L1=10)
    order, announced = kit.arrive([created, ship, pick])
    assert order.status == "shipped"
    assert [c.status for c in announced] == ["received", "shipped"]
    assert [e.type for e in order.view.timeline] == [
        "order.created",
        "pick.completed",
        "shipment.shipped",
    ]
    assert order.view.timeline[1].status == "picked"


def test_late_older_event_that_raises_the_status_is_announced_with_its_event_time(
    kit: Any,
) -> None:
    h = kit.History()
    created, alloc, pick = h.created(0), h.allocated(1, L1=10), h.picked(5, L1=10)
    order, announced = kit.arrive([created, pick, alloc])
    assert order.status == "picked"
    assert [c.status for c in announced] == ["received", "picked"]
    assert announced[-1].previous_status == "received"
    assert announced[-1].at == kit.t(5)


def test_duplicate_event_changes_nothing_and_announces_nothing(kit: Any) -> None:
    h = kit.History()
    created = h.created(0)
    order, _ = kit.arrive([created])
    again, announced = record(order, "ORD-1", [created], DEFAULTS)
    assert again is order
    assert announced == []


def test_first_status_is_announced_with_no_previous_status(kit: Any) -> None:
    h = kit.History()
    _, announced = kit.arrive([h.created(0)])
    (first,) = announced
    assert (first.status, first.previous_status, first.source) == ("received", None, "erp/sap")
