"""returns.pending_changed: absolute authorized-not-yet-received units per SKU and location."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from returns.domain.pending import Pending, set_pending


async def test_pending_totals_sum_over_two_rmas_and_drop_as_they_close(h, ev):
    expires = ev.T0 + timedelta(days=1)
    await h.send("return.authorized", ev.authorized(rma_id="RMA-A", lines=[("SKU-1", 5)]))
    await h.send(
        "return.authorized",
        ev.authorized(rma_id="RMA-B", lines=[("SKU-1", 3), ("SKU-2", 1)], expires_at=expires),
    )
    assert h.pending("SKU-1", "DC-EAST") == 8

    await h.send("return.received", ev.received(rma_id="RMA-A", lines=[("SKU-1", 2)]))
    assert h.pending("SKU-1", "DC-EAST") == 6

    await h.sweep(expires + timedelta(minutes=1))
    assert h.pending("SKU-1", "DC-EAST") == 3
    assert h.pending("SKU-2", "DC-EAST") == 0

    await h.send("return.received", ev.received(rma_id="RMA-A", lines=[("SKU-1", 3)]))
    totals = [d["pending_qty"] for d in h.of_type("returns.pending_changed") if d["sku"] == "SKU-1"]
    assert totals == [5, 8, 6, 3, 0]


async def test_pending_is_kept_apart_per_location(h, ev):
    await h.send("return.authorized", ev.authorized(rma_id="RMA-A", location="DC-EAST"))
    await h.send("return.authorized", ev.authorized(rma_id="RMA-B", location="DC-WEST"))

    assert h.pending("SKU-1", "DC-EAST") == 5
    assert h.pending("SKU-1", "DC-WEST") == 5


async def test_moving_an_authorization_to_another_location_moves_its_pending(h, ev):
    await h.send("return.authorized", ev.authorized(location="DC-EAST"))
    await h.send("return.authorized", ev.authorized(location="DC-WEST"))

    assert h.pending("SKU-1", "DC-EAST") == 0
    assert h.pending("SKU-1", "DC-WEST") == 5


def test_unchanged_total_is_not_announced_again():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    p, first = set_pending(Pending(sku="S", location="L"), "RMA-1", 2.0, now)
    p, again = set_pending(p, "RMA-1", 2.0, now + timedelta(seconds=1))

    assert first is not None
    assert again is None
    assert p.total == 2.0


def test_pending_time_is_always_strictly_after_the_last_announcement():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    p, _ = set_pending(Pending(sku="S", location="L"), "RMA-1", 2.0, now)
    p, emit = set_pending(p, "RMA-1", 1.0, now - timedelta(hours=1))

    assert emit is not None
    assert emit.time == now + timedelta(milliseconds=1)


receipts = st.lists(
    st.tuples(st.sampled_from(["RMA-A", "RMA-B"]), st.integers(min_value=1, max_value=4)),
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(receipts=receipts, receipt_first=st.booleans())
def test_pending_equals_the_sum_of_what_each_rma_still_expects(
    harness_factory, ev, receipts, receipt_first
):
    authorized, received = ev.authorized, ev.received

    async def scenario() -> tuple[float, float]:
        h = harness_factory()
        auth = {"RMA-A": 5, "RMA-B": 3}
        if not receipt_first:
            for rma_id, qty in auth.items():
                await h.send("return.authorized", authorized(rma_id, [("SKU-1", qty)]))
        for rma_id, qty in receipts:
            await h.send("return.received", received(rma_id, [("SKU-1", qty)]))
        if receipt_first:
            for rma_id, qty in auth.items():
                await h.send("return.authorized", authorized(rma_id, [("SKU-1", qty)]))
        got = {r: sum(q for rr, q in receipts if rr == r) for r in auth}
        expected = sum(max(0, auth[r] - got[r]) for r in auth)
        announced = [d["pending_qty"] for d in h.of_type("returns.pending_changed")]
        assert h.pending("SKU-1", "DC-EAST") == (announced[-1] if announced else 0)
        return h.pending("SKU-1", "DC-EAST"), expected

    actual, expected = asyncio.run(scenario())
    assert actual == expected


def test_two_announcements_in_the_same_millisecond_carry_strictly_increasing_times():
    from datetime import UTC, datetime

    from returns.domain.pending import Pending, set_pending

    t = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
    p = Pending(sku="A", location="DC")
    p, first = set_pending(p, "RMA-1", 2, t)
    p, second = set_pending(p, "RMA-1", 0, t)
    assert first is not None and second is not None
    assert second.time > first.time
    assert first.time.microsecond % 1000 == 0
