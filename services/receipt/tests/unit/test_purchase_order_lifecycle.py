"""Purchase order lifecycle: statuses, cancellation, duplicates and out-of-order arrival."""

from __future__ import annotations


async def test_cancelling_a_partially_received_po_raises_short_receipt_per_short_line(svc):
    await svc.release(
        "PO-1", [svc.pl("1", "SKU-A", 10), svc.pl("2", "SKU-B", 5), svc.pl("3", "SKU-C", 2)]
    )
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4), svc.rl("SKU-C", 2)])
    await svc.cancel("PO-1")

    shorts = {e["sku"]: e for e in svc.exceptions("short_receipt")}
    assert {s: e["qty"] for s, e in shorts.items()} == {"SKU-A": 6.0, "SKU-B": 5.0}
    assert {e["receipt_id"] for e in shorts.values()} == {"R-1"}
    assert svc.statuses("PO-1") == ["open", "partially_received", "cancelled"]
    assert svc.inbound("SKU-A")["inbound_qty"] == 0.0
    assert svc.inbound("SKU-B")["inbound_qty"] == 0.0


async def test_cancelling_a_po_before_any_receipt_raises_no_short_receipt(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.cancel("PO-1")
    await svc.cancel("PO-1")

    assert svc.exceptions() == []
    assert svc.statuses("PO-1") == ["open", "cancelled"]
    assert svc.inbound("SKU-A") == {"sku": "SKU-A", "location": "DC-EAST", "inbound_qty": 0.0}


async def test_goods_received_after_the_cancellation_are_quarantined_as_unexpected(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], time=svc.at(1))
    await svc.cancel("PO-1", time=svc.at(2))
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 10)], time=svc.at(3))

    assert svc.confirmed_totals() == {"SKU-A": (0.0, 10.0)}
    [exc] = svc.exceptions()
    assert exc["kind"] == "unexpected_item"
    assert "cancelled" in exc["detail"]


async def test_the_same_receipt_delivered_twice_with_the_same_event_id_counts_once(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)], id="ev-1")
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)], id="ev-1")

    assert len(svc.events("receipt.confirmed")) == 1
    assert svc.line("PO-1", "1")["received"] == 4.0


async def test_the_same_receipt_id_under_a_new_event_id_is_ignored_and_recorded(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)], id="ev-1")
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)], id="ev-2")

    assert svc.confirmed_totals() == {"SKU-A": (4.0, 0.0)}
    assert svc.line("PO-1", "1")["received"] == 4.0
    record = svc.store["receipts"]["R-1"]
    assert (record["event_id"], record["duplicate_count"]) == ("ev-1", 1)
    assert [d["event_id"] for d in record["duplicates"]] == ["ev-2"]


async def test_a_second_receipt_for_the_same_line_accumulates(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10, over_receipt_tolerance_pct=10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 6)])
    await svc.receive("R-2", "PO-1", [svc.rl("SKU-A", 6)])

    line = svc.line("PO-1", "1")
    assert (line["received"], line["accepted"], line["quarantined"]) == (12.0, 11.0, 1.0)
    assert svc.confirmed_totals() == {"SKU-A": (11.0, 1.0)}
    assert [(e["kind"], e["qty"], e["receipt_id"]) for e in svc.exceptions()] == [
        ("over_receipt", 1.0, "R-2")
    ]
    assert svc.statuses("PO-1") == ["open", "partially_received", "received"]
    assert [r["receipt_id"] for r in svc.po("PO-1")["receipts"]] == ["R-1", "R-2"]


async def test_receipt_before_its_po_is_held_then_checked_when_the_po_is_released(svc):
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 12)], time=svc.at(2))

    assert svc.events("receipt.confirmed") == []
    assert [r["receipt_id"] for r in svc.po("PO-1")["held"]] == ["R-1"]

    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], time=svc.at(1))

    assert svc.confirmed_totals() == {"SKU-A": (10.0, 2.0)}
    assert [e["kind"] for e in svc.exceptions()] == ["over_receipt"]
    assert svc.po("PO-1")["held"] == []
    assert svc.statuses("PO-1") == ["received"]
    assert svc.inbound("SKU-A") is None  # never expected: it had all arrived


async def test_receipt_before_its_po_gives_the_same_result_as_in_order(svc, new_svc):
    in_order = new_svc()
    for h, late in ((svc, False), (in_order, True)):
        if late:
            await h.release("PO-1", [h.pl("1", "SKU-A", 10, lot_tracked=True)], time=h.at(1))
        await h.asn("ASN-1", "PO-1", "2026-11-30", [("1", "SKU-A", 10)], time=h.at(1.5))
        await h.receive("R-1", "PO-1", [h.rl("SKU-A", 8, lot="L1", qty_damaged=1)], time=h.at(2))
        await h.cancel("PO-1", time=h.at(3))
        if not late:
            await h.release("PO-1", [h.pl("1", "SKU-A", 10, lot_tracked=True)], time=h.at(1))

    def facts(h):
        po = h.po("PO-1")
        return (
            po["status"],
            po["lines"],
            h.confirmed_totals(),
            sorted((e["kind"], e["qty"]) for e in h.exceptions()),
        )

    assert facts(svc) == facts(in_order)
    assert facts(svc)[0] == "cancelled"
    assert sorted((e["kind"], e["qty"]) for e in svc.exceptions()) == [
        ("damaged", 1.0),
        ("short_receipt", 2.0),
    ]


async def test_cancellation_before_the_release_keeps_the_po_cancelled(svc):
    await svc.cancel("PO-1", time=svc.at(2))
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], time=svc.at(1))

    assert svc.statuses("PO-1") == ["cancelled"]
    assert svc.po("PO-1")["released"] is True
    assert svc.inbound("SKU-A") is None


async def test_a_newer_release_amends_the_po_and_an_older_one_is_ignored(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10), svc.pl("2", "SKU-B", 5)], time=svc.at(1))
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)], time=svc.at(2))
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 20)], time=svc.at(3))
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 1)], time=svc.at(0.5))

    a, b = svc.line("PO-1", "1"), svc.line("PO-1", "2")
    assert (a["ordered"], a["received"]) == (20.0, 4.0)
    assert b["ordered"] == 0.0  # dropped by the amendment
    assert svc.inbound("SKU-A")["inbound_qty"] == 16.0
    assert svc.inbound("SKU-B")["inbound_qty"] == 0.0
