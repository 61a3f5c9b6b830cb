"""Property: the order is a function of the set of its events, whatever their arrival."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from order_status.domain.ranks import RANK


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_permutation_and_duplication_of_history_ends_in_same_status_and_timeline(
    kit: Any, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(kit.SCENARIOS)), label="scenario")
    facts = kit.SCENARIOS[name](kit.History())
    dups = data.draw(st.lists(st.sampled_from(facts), max_size=len(facts)), label="duplicates")
    arrival = data.draw(st.permutations([*facts, *dups]), label="arrival")

    order, announced = kit.arrive(arrival)
    expected = kit.fold_all(facts)

    assert order.status == expected.status
    assert order.view.timeline == expected.timeline
    assert order.view == expected
    assert announced[-1].status == expected.status
    ranks = [RANK[c.status] for c in announced if c.status in RANK]
    assert all(b >= a or a == b == 2 for a, b in pairwise(ranks))


@settings(max_examples=200, deadline=None)
@given(
    lines=st.dictionaries(
        st.sampled_from(["L1", "L2", "L3"]), st.integers(min_value=1, max_value=20), min_size=1
    ),
    data=st.data(),
)
def test_random_split_fulfilment_in_any_arrival_order_folds_the_same(
    kit: Any, lines: dict[str, int], data: st.DataObject
) -> None:
    h = kit.History()
    facts = [h.created(0, **lines)]
    minute = 1
    for line_id, qty in lines.items():
        parts = data.draw(st.integers(min_value=1, max_value=min(3, qty)), label=f"{line_id} parts")
        chunk = [qty // parts + (1 if k < qty % parts else 0) for k in range(parts)]
        for k, q in enumerate(chunk):
            sid = f"S-{line_id}-{k}"
            facts += [
                h.allocated(minute, **{line_id: q}),
                h.picked(minute + 1, **{line_id: q}),
                h.shipped(minute + 2, sid, f"T-{sid}", **{line_id: q}),
                h.scan(
                    minute + 3,
                    data.draw(st.sampled_from(["delivered", "exception"])),
                    f"T-{sid}",
                    sid,
                ),
            ]
            minute += 4
    arrival = data.draw(st.permutations(facts), label="arrival")
    order, _ = kit.arrive(arrival)
    expected = kit.fold_all(facts)
    assert order.view == expected
    assert all(ln.shipped == ln.ordered for ln in expected.lines)
    assert expected.status in ("delivered", "exception")
