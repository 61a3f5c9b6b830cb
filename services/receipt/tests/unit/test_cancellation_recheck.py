"""A PO's cancellation decides by event time, whatever arrives first: receipts received after
it end quarantined as unexpected even when they were handled before it."""

from __future__ import annotations

from typing import Any

LATE = "RECEIVED_AFTER_PO_CANCELLED"


def net_stock(h: Any) -> dict[tuple[str, str], tuple[float, float]]:
    """Per (SKU, location), (on hand, quarantined) as availability adds them up."""
    out: dict[tuple[str, str], tuple[float, float]] = {}

    def add(key: tuple[str, str], on_hand: float, held: float) -> None:
        a, b = out.get(key, (0.0, 0.0))
        out[key] = (round(a + on_hand, 6), round(b + held, 6))

    for t, d, _ in h.published:
        if t == "receipt.confirmed":
            for ln in d["lines"]:
                add((ln["sku"], d["location"]), ln["qty_accepted"] + ln["qty_quarantined"], 0.0)
                add((ln["sku"], d["location"]), 0.0, ln["qty_quarantined"])
        elif t in ("inventory.quarantined", "inventory.released"):
            sign = 1 if t == "inventory.quarantined" else -1
            add((d["sku"], d["location"]), 0.0, sign * d["qty"])
    return out


def facts(h: Any, po_id: str = "PO-1") -> tuple[Any, ...]:
    po = h.po(po_id)
    lines = [
        {k: ln[k] for k in ("line_id", "received", "accepted", "quarantined", "substituted")}
        for ln in po["lines"]
    ]
    return po["status"], lines, net_stock(h)


async def test_a_late_receipt_that_overtakes_the_cancellation_ends_quarantined_as_unexpected(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], time=svc.at(1))
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)], time=svc.at(2))
    await svc.receive("R-2", "PO-1", [svc.rl("SKU-A", 6)], time=svc.at(4))
    assert svc.confirmed_totals() == {"SKU-A": (10.0, 0.0)}

    await svc.cancel("PO-1", time=svc.at(3))

    assert svc.events("inventory.quarantined") == [
        {"location": "DC-EAST", "sku": "SKU-A", "qty": 6.0, "reason_code": LATE}
    ]
    late = [e for e in svc.exceptions("unexpected_item") if e["receipt_id"] == "R-2"]
    assert [(e["qty"], "cancelled" in e["detail"]) for e in late] == [(6.0, True)]
    line = svc.line("PO-1", "1")
    assert (line["received"], line["accepted"], line["quarantined"]) == (4.0, 4.0, 0.0)
    [short] = svc.exceptions("short_receipt")
    assert short["qty"] == 6.0
    assert svc.statuses("PO-1")[-1] == "cancelled"
    assert svc.inbound("SKU-A")["inbound_qty"] == 0.0


async def test_the_end_state_is_the_same_whether_the_cancellation_or_the_late_truck_comes_first(
    svc, new_svc
):
    first = new_svc()
    for h, cancel_first in ((svc, False), (first, True)):
        await h.release("PO-1", [h.pl("1", "SKU-A", 10), h.pl("2", "SKU-B", 5)], time=h.at(1))
        await h.receive("R-1", "PO-1", [h.rl("SKU-A", 4)], time=h.at(2))
        late = [h.rl("SKU-A", 6, qty_damaged=1), h.rl("SKU-B", 5), h.rl("SKU-Z", 2)]
        if cancel_first:
            await h.cancel("PO-1", time=h.at(3))
        await h.receive("R-2", "PO-1", late, time=h.at(4))
        if not cancel_first:
            await h.cancel("PO-1", time=h.at(3))

    assert facts(svc) == facts(first)
    assert net_stock(svc) == {
        ("SKU-A", "DC-EAST"): (10.0, 6.0),
        ("SKU-B", "DC-EAST"): (5.0, 5.0),
    } | {("SKU-Z", "DC-EAST"): (2.0, 2.0)}
    unexpected = sorted(
        (e["sku"], e["qty"]) for e in svc.exceptions("unexpected_item") if e["receipt_id"] == "R-2"
    )
    assert unexpected == [("SKU-A", 6.0), ("SKU-B", 5.0), ("SKU-Z", 2.0)]


async def test_tolerance_used_by_a_withdrawn_receipt_goes_back_to_the_receipts_before_the_cancellation(
    svc, new_svc
):
    in_order = new_svc()
    await in_order.release("PO-1", [in_order.pl("1", "SKU-A", 10)], time=in_order.at(1))
    await in_order.receive("R-1", "PO-1", [in_order.rl("SKU-A", 5)], time=in_order.at(2))
    await in_order.cancel("PO-1", time=in_order.at(3))
    await in_order.receive(
        "R-2", "PO-1", [in_order.rl("SKU-A", 10)], time=in_order.at(4), location="DC-WEST"
    )

    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], time=svc.at(1))
    await svc.receive("R-2", "PO-1", [svc.rl("SKU-A", 10)], time=svc.at(4), location="DC-WEST")
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 5)], time=svc.at(2))
    assert svc.confirmed_totals() == {"SKU-A": (10.0, 5.0)}  # R-1 was over tolerance then
    await svc.cancel("PO-1", time=svc.at(3))

    assert facts(svc) == facts(in_order)
    assert svc.events("inventory.quarantined") == [
        {"location": "DC-WEST", "sku": "SKU-A", "qty": 10.0, "reason_code": LATE}
    ]
    assert svc.events("inventory.released") == [
        {"location": "DC-EAST", "sku": "SKU-A", "qty": 5.0, "reason_code": "RECEIPT_RECHECKED"}
    ]
    received = {r["receipt_id"]: r["lines"] for r in svc.po("PO-1")["receipts"]}
    assert received["R-1"][0]["qty_accepted"] == 5.0
    assert received["R-2"][0]["po_line_id"] is None


async def test_an_earlier_cancellation_arriving_last_still_decides(svc, new_svc):
    in_order = new_svc()
    for h, shuffled in ((svc, True), (in_order, False)):
        await h.release("PO-1", [h.pl("1", "SKU-A", 10)], time=h.at(1))
        if shuffled:
            await h.cancel("PO-1", time=h.at(5))
            await h.receive("R-1", "PO-1", [h.rl("SKU-A", 10)], time=h.at(3))
            await h.cancel("PO-1", time=h.at(2))
        else:
            await h.cancel("PO-1", time=h.at(2))
            await h.receive("R-1", "PO-1", [h.rl("SKU-A", 10)], time=h.at(3))
            await h.cancel("PO-1", time=h.at(5))

    assert facts(svc) == facts(in_order)
    assert svc.po("PO-1")["cancelled_at"] == in_order.po("PO-1")["cancelled_at"]
    assert net_stock(svc) == {("SKU-A", "DC-EAST"): (10.0, 10.0)}


async def test_a_cancellation_with_nothing_received_after_it_publishes_no_correction(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], time=svc.at(1))
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)], time=svc.at(2))
    before = svc.po("PO-1")["receipts"]
    await svc.cancel("PO-1", time=svc.at(3))

    assert svc.events("inventory.quarantined") == svc.events("inventory.released") == []
    assert svc.exceptions("unexpected_item") == []
    assert svc.po("PO-1")["receipts"] == before


async def test_a_substitute_received_after_the_cancellation_no_longer_counts_on_its_line(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], time=svc.at(1))
    sub = svc.rl("SKU-S", 3, substitute_for_sku="SKU-A", po_line_id="1")
    await svc.receive("R-1", "PO-1", [sub], time=svc.at(4))
    assert svc.line("PO-1", "1")["substituted"] == 3.0

    await svc.cancel("PO-1", time=svc.at(3))

    assert svc.line("PO-1", "1")["substituted"] == 0.0
    assert svc.events("inventory.quarantined") == []  # a substitute is held already
    assert [e["kind"] for e in svc.exceptions() if e["receipt_id"] == "R-1"] == [
        "substitution",
        "unexpected_item",
    ]
