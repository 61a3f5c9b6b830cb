"""Late, early and duplicate events: nothing lost, nothing counted twice, time never backwards."""

from __future__ import annotations

from datetime import timedelta


async def test_receipt_before_authorization_is_held_and_reconciled(h, ev):
    out = await h.send("return.received", ev.received(lines=[("SKU-1", 2)]))

    assert [e.type for e in out] == ["return.stock_received"]
    held = h.rma("RMA-1")
    assert (held.authorized, held.status, held.flags) == (False, None, ())

    out = await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))

    assert h.statuses("RMA-1") == ["partially_received"]
    assert h.pending("SKU-1", "DC-EAST") == 3
    assert h.rma("RMA-1").items[0].received == 2
    assert h.rma("RMA-1").flags == ()


async def test_receipt_before_authorization_beyond_it_is_flagged_on_authorization(h, ev):
    await h.send("return.received", ev.received(lines=[("SKU-1", 6), ("SKU-7", 1)]))
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))

    flags = {(f.kind, f.sku, f.location, f.qty) for f in h.rma("RMA-1").flags}
    assert flags == {
        ("over_receipt", "SKU-1", "DC-EAST", 1),
        ("unexpected_sku", "SKU-7", "DC-EAST", 1),
    }
    assert h.statuses("RMA-1") == ["received"]
    assert h.pending("SKU-1", "DC-EAST") == 0


async def test_inspection_before_authorization_is_kept_and_completes_on_authorization(h, ev):
    await h.send("return.received", ev.received(lines=[("SKU-1", 5)]))
    await h.send("return.inspected", ev.inspected(lines=[("SKU-1", 5, "restock")]))
    assert h.of_type("return.status_changed") == []

    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    assert h.statuses("RMA-1") == ["completed"]
    assert h.of_type("returns.pending_changed") == []


async def test_same_authorization_from_a_second_channel_does_not_double_pending(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]), source="commerce/portal")
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]), source="erp/main")

    assert h.pending("SKU-1", "DC-EAST") == 5
    assert h.statuses("RMA-1") == ["authorized"]
    assert len(h.of_type("returns.pending_changed")) == 1
    assert h.rma("RMA-1").authorized_by == "erp"


async def test_amended_authorization_replaces_the_quantities(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 3)]))
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 2)]))

    assert h.pending("SKU-1", "DC-EAST") == 0
    assert h.rma("RMA-1").status == "received"
    assert [(f.kind, f.qty) for f in h.rma("RMA-1").flags] == [("over_receipt", 1)]


async def test_older_authorization_arriving_late_is_ignored(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 2)]), at=ev.T0)
    await h.send(
        "return.authorized",
        ev.authorized(lines=[("SKU-1", 9)]),
        at=ev.T0 - timedelta(hours=1),
    )

    assert h.pending("SKU-1", "DC-EAST") == 2
    assert h.rma("RMA-1").history[-1].kind == "authorization_ignored"


async def test_same_units_under_a_new_event_id_count_as_a_new_receipt(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 2)]), id="wms-1")
    await h.send("return.received", ev.received(lines=[("SKU-1", 2)]), id="wms-2")

    assert h.rma("RMA-1").items[0].received == 4
    assert h.pending("SKU-1", "DC-EAST") == 1
    assert [d["qty"] for d in h.of_type("return.stock_received")] == [2, 2]


async def test_late_receipt_keeps_status_time_moving_forward(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]), at=ev.T0)
    await h.send(
        "return.received", ev.received(lines=[("SKU-1", 5)]), at=ev.T0 + timedelta(hours=2)
    )
    await h.send(
        "return.inspected",
        ev.inspected(lines=[("SKU-1", 5, "restock")]),
        at=ev.T0 + timedelta(hours=1),
    )

    times = [e.time for e in h.published if e.type == "return.status_changed"]
    assert times == sorted(times)
    assert times[-1] == ev.T0 + timedelta(hours=2)


async def test_stock_events_carry_the_source_event_time(h, ev):
    at = ev.T0 - timedelta(days=1)
    out = await h.send("return.received", ev.received(lines=[("SKU-1", 1)]), at=at)
    assert out[0].time == at


async def test_pending_time_never_goes_backwards_when_the_clock_does(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    h.arrival -= timedelta(hours=1)
    await h.send("return.received", ev.received(lines=[("SKU-1", 1)]))

    times = [e.time for e in h.published if e.type == "returns.pending_changed"]
    assert len(times) == 2
    assert times[1] >= times[0]
