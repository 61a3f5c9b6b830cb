"""Property: any interleaving and duplication of a history ends where in-order application does.

The runtime's inbox drops repeated ids and a message in an unknown unit is retried (or replayed
from the DLQ); the harness does both, so what is left to prove is that the domain does not care about arrival order.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from availability.domain.position import Position
from availability.store import position_from_doc
from shared.errors import Rejected, RetryableError

SKUS = ("S1", "S2")  # S1 has an item record (EA, CS = 12) somewhere in the history; S2 never
LOCS = ("A", "B")

sku = st.sampled_from(SKUS)
loc = st.sampled_from(LOCS)
qty = st.one_of(st.integers(0, 20).map(float), st.sampled_from([0.1, 0.25, 0.3, 1.5]))
delta = st.one_of(qty, qty.map(lambda q: -q))
uom = st.sampled_from([None, None, None, "EA", "CS"])


def d(**fields: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(fields)


def lines(**extra: Any) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(d(sku=sku, qty=qty, uom=uom, **extra), min_size=1, max_size=3)


def ev(type_: str, data: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    return st.tuples(st.just(type_), data)


EVENTS = st.one_of(
    ev("inventory.adjusted", d(location=loc, sku=sku, qty_delta=delta, uom=uom)),
    ev("inventory.counted", d(location=loc, sku=sku, counted_qty=qty, uom=uom)),
    ev("inventory.quarantined", d(location=loc, sku=sku, qty=qty)),
    ev("inventory.released", d(location=loc, sku=sku, qty=qty)),
    ev("order.allocated", d(lines=lines(location=loc))),
    ev("order.deallocated", d(lines=lines(location=loc))),
    ev("shipment.shipped", d(location=loc, lines=lines())),
    ev("transfer.shipped", d(from_location=loc, to_location=loc, lines=lines())),
    ev("transfer.received", d(to_location=loc, lines=lines())),
    ev(
        "receipt.confirmed",
        d(
            location=loc,
            lines=st.lists(d(sku=sku, qty_accepted=qty, qty_quarantined=qty), max_size=2),
            received_at=st.none() | st.integers(0, 30).map(lambda m: f"2026-11-27T10:{m:02d}:00Z"),
        ),
    ),
    ev("inbound.changed", d(sku=sku, location=loc, inbound_qty=qty)),
    ev("returns.pending_changed", d(sku=sku, location=loc, pending_qty=qty)),
    ev("return.stock_received", d(location=loc, sku=sku, qty=qty)),
    ev(
        "return.stock_dispositioned",
        d(
            location=loc,
            sku=sku,
            qty=qty,
            disposition=st.sampled_from(["restock", "refurbish", "scrap", "return_to_vendor"]),
        ),
    ),
    ev(
        "item.updated",
        d(
            sku=st.just("S1"),
            base_uom=st.just("EA"),
            uom_conversions=st.just({"CS": 12}),
            safety_stock=st.none() | st.dictionaries(loc, qty, max_size=2),
        ),
    ),
)
HISTORY = st.lists(st.tuples(EVENTS, st.integers(0, 30)), max_size=40)


async def run(harness: Any, events: list[Any]) -> Any:
    """Deliver in the given order; replay the dead-lettered ones until none more succeed."""
    h = harness()
    dlq = []
    for e in events:
        try:
            await h.deliver(e)
        except (Rejected, RetryableError):
            dlq.append(e)
    while dlq:
        left = []
        for e in dlq:
            try:
                await h.deliver(e)
            except (Rejected, RetryableError):
                left.append(e)
        if len(left) == len(dlq):
            break
        dlq = left
    return h


def snapshot(h: Any) -> dict[str, Any]:
    """Every position's numbers and count state; version and as_of depend on arrival order."""
    out = {}
    for key, doc in h.store.get("positions", {}).items():
        p = position_from_doc(doc)
        state = (p.numbers(), p.counted, p.movements)
        blank = Position(p.sku, p.location)
        if state != (blank.numbers(), blank.counted, blank.movements):
            out[key] = state
    return out


def versions_by_position(h: Any) -> dict[tuple[str, str], list[int]]:
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    for e in h.published:
        if e.type == "availability.changed":
            seen[(e.data["sku"], e.data["location"])].append(e.data["version"])
    return seen


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=HISTORY, data=st.data())
def test_any_interleaving_with_duplicates_ends_at_the_in_order_position(
    harness, history, data
) -> None:
    probe = harness()
    events = [
        probe.event(type_, payload, minutes=minute, id=f"e{i}")
        for i, ((type_, payload), minute) in enumerate(history)
    ]
    in_order = sorted(events, key=lambda e: (e.time, e.id))
    dups = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    shuffled = data.draw(st.permutations(events + dups))

    reference = asyncio.run(run(harness, in_order))
    actual = asyncio.run(run(harness, shuffled))

    assert snapshot(actual) == snapshot(reference)
    for versions in versions_by_position(actual).values():
        assert versions == list(range(1, len(versions) + 1))
