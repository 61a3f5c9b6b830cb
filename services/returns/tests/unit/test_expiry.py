"""The expiry sweep: lapses due authorizations once, even with several replicas."""

from __future__ import annotations

from datetime import timedelta

from returns.handlers import expire
from returns.sweep import ExpirySweep
from shared.uow import InMemoryUnitOfWork


async def test_sweep_expires_an_authorized_rma_past_expires_at(h, ev):
    expires = ev.T0 + timedelta(days=30)
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)], expires_at=expires))

    assert await h.sweep(expires + timedelta(minutes=1)) == 1

    assert h.statuses("RMA-1") == ["authorized", "expired"]
    assert h.pending("SKU-1", "DC-EAST") == 0
    expired = [e for e in h.published if e.type == "return.status_changed"][-1]
    assert expired.time == expires
    assert expired.correlationid == "RMA-1"


async def test_sweep_leaves_an_rma_that_is_not_yet_due(h, ev):
    expires = ev.T0 + timedelta(days=30)
    await h.send("return.authorized", ev.authorized(expires_at=expires))

    assert await h.sweep(expires - timedelta(seconds=1)) == 0
    assert h.rma("RMA-1").status == "authorized"


async def test_sweep_does_not_expire_an_rma_with_received_units(h, ev):
    expires = ev.T0 + timedelta(days=30)
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)], expires_at=expires))
    await h.send("return.received", ev.received(lines=[("SKU-1", 2)]))

    await h.sweep(expires + timedelta(days=1))

    rma = h.rma("RMA-1")
    assert "expired" not in h.statuses("RMA-1")
    assert (rma.status, rma.lapsed) == ("partially_received", True)
    assert h.pending("SKU-1", "DC-EAST") == 0


async def test_lapsed_partial_return_completes_once_its_units_are_inspected(h, ev):
    expires = ev.T0 + timedelta(days=30)
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)], expires_at=expires))
    await h.send("return.received", ev.received(lines=[("SKU-1", 2)]))
    await h.send("return.inspected", ev.inspected(lines=[("SKU-1", 2, "restock")]))
    assert h.rma("RMA-1").status == "inspected"

    await h.sweep(expires + timedelta(days=1))
    assert h.statuses("RMA-1")[-1] == "completed"


async def test_rma_without_expiry_is_never_swept(h, ev):
    await h.send("return.authorized", ev.authorized())
    assert await h.sweep(ev.T0 + timedelta(days=3650)) == 0


async def test_two_replicas_racing_expire_the_rma_once(h, ev):
    expires = ev.T0 + timedelta(days=1)
    await h.send("return.authorized", ev.authorized(expires_at=expires))
    now = expires + timedelta(hours=1)

    first = InMemoryUnitOfWork("returns", h.store)
    second = InMemoryUnitOfWork("returns", h.store)
    assert await expire(first, "RMA-1", now) is True
    first.commit()
    assert await expire(second, "RMA-1", now) is False
    second.commit()

    assert second.published == []
    assert [e.event.type for e in first.published] == [
        "return.status_changed",
        "returns.pending_changed",
    ]
    assert first.published[0].event.data["status"] == "expired"


async def test_sweeps_on_two_replicas_publish_one_expiry(h, ev):
    expires = ev.T0 + timedelta(days=1)
    await h.send("return.authorized", ev.authorized(rma_id="RMA-A", expires_at=expires))
    await h.send("return.authorized", ev.authorized(rma_id="RMA-B", expires_at=expires))
    now = expires + timedelta(hours=1)

    assert await h.sweep(now) + await h.sweep(now) == 2
    assert h.statuses("RMA-A") == ["authorized", "expired"]
    assert h.statuses("RMA-B") == ["authorized", "expired"]


async def test_units_arriving_after_expiry_are_received_and_flagged(h, ev):
    expires = ev.T0 + timedelta(days=1)
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)], expires_at=expires))
    await h.sweep(expires + timedelta(hours=1))
    out = await h.send("return.received", ev.received(lines=[("SKU-1", 2)]))

    assert [e.data["qty"] for e in out if e.type == "return.stock_received"] == [2]
    assert [f.kind for f in h.rma("RMA-1").flags] == ["received_after_expiry"]
    assert h.statuses("RMA-1") == ["authorized", "expired", "partially_received"]
    assert h.pending("SKU-1", "DC-EAST") == 0


async def test_reauthorization_with_a_later_expiry_reopens_an_expired_rma(h, ev):
    expires = ev.T0 + timedelta(hours=1)
    await h.send("return.authorized", ev.authorized(expires_at=expires))
    await h.sweep(expires + timedelta(minutes=1))
    h.arrival = expires + timedelta(minutes=2)
    await h.send("return.authorized", ev.authorized(expires_at=expires + timedelta(days=30)))

    assert h.statuses("RMA-1") == ["authorized", "expired", "authorized"]
    assert h.pending("SKU-1", "DC-EAST") == 5


async def test_late_copy_of_a_lapsed_authorization_keeps_it_expired(h, ev):
    expires = ev.T0 + timedelta(hours=1)
    await h.send("return.authorized", ev.authorized(expires_at=expires))
    await h.sweep(expires + timedelta(minutes=1))
    h.arrival = expires + timedelta(minutes=2)
    await h.send("return.authorized", ev.authorized(expires_at=expires), source="commerce/web")

    assert h.statuses("RMA-1") == ["authorized", "expired"]
    assert h.pending("SKU-1", "DC-EAST") == 0


def test_periodic_task_waits_for_the_configured_interval():
    sweep = ExpirySweep()

    assert [sweep.due(tick, 60.0) for tick in (0.0, 10.0, 61.0, 100.0)] == [
        True,
        False,
        True,
        False,
    ]
