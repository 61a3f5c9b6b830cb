"""Receipt and inspection: full, partial, over-receipt, unexpected SKUs, dispositions."""

from __future__ import annotations

import pytest

from shared.errors import Rejected


async def test_authorization_announces_authorized_status_and_pending_supply(h, ev):
    out = await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))

    assert [e.type for e in out] == ["return.status_changed", "returns.pending_changed"]
    assert out[0].data == {"rma_id": "RMA-1", "order_id": "ORD-1", "status": "authorized"}
    assert out[0].correlationid == "RMA-1"
    assert out[1].data == {"sku": "SKU-1", "location": "DC-EAST", "pending_qty": 5}
    assert h.rma("RMA-1").authorized_by == "erp"


async def test_full_receipt_moves_rma_to_received_and_clears_pending(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    out = await h.send("return.received", ev.received(lines=[("SKU-1", 5)]))

    assert [e.type for e in out] == [
        "return.stock_received",
        "return.status_changed",
        "returns.pending_changed",
    ]
    assert out[0].data == {"rma_id": "RMA-1", "location": "DC-EAST", "sku": "SKU-1", "qty": 5}
    assert h.statuses("RMA-1") == ["authorized", "received"]
    assert h.pending("SKU-1", "DC-EAST") == 0
    assert h.rma("RMA-1").flags == ()


async def test_partial_receipt_sets_partially_received_and_lowers_pending(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5), ("SKU-2", 2)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 3)]))

    assert h.rma("RMA-1").status == "partially_received"
    assert h.pending("SKU-1", "DC-EAST") == 2
    assert h.pending("SKU-2", "DC-EAST") == 2

    await h.send("return.received", ev.received(lines=[("SKU-1", 2), ("SKU-2", 2)]))
    assert h.statuses("RMA-1") == ["authorized", "partially_received", "received"]
    assert h.pending("SKU-1", "DC-EAST") == 0


async def test_over_receipt_is_received_into_quarantine_and_flagged(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    out = await h.send("return.received", ev.received(lines=[("SKU-1", 7)]))

    received = [e.data for e in out if e.type == "return.stock_received"]
    assert received == [{"rma_id": "RMA-1", "location": "DC-EAST", "sku": "SKU-1", "qty": 7}]
    (flag,) = h.rma("RMA-1").flags
    assert (flag.kind, flag.sku, flag.location, flag.qty) == ("over_receipt", "SKU-1", "DC-EAST", 2)
    assert h.rma("RMA-1").status == "received"


async def test_further_over_receipt_flags_only_the_new_excess(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 6)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 2)]))

    assert [f.qty for f in h.rma("RMA-1").flags] == [1, 2]


async def test_unexpected_sku_is_received_and_flagged_as_unexpected(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    out = await h.send("return.received", ev.received(lines=[("SKU-1", 5), ("SKU-9", 1)]))

    skus = [e.data["sku"] for e in out if e.type == "return.stock_received"]
    assert skus == ["SKU-1", "SKU-9"]
    (flag,) = h.rma("RMA-1").flags
    assert (flag.kind, flag.sku, flag.qty) == ("unexpected_sku", "SKU-9", 1)
    assert h.rma("RMA-1").status == "received"
    assert h.pending("SKU-9", "DC-EAST") == 0


async def test_mixed_dispositions_restock_three_scrap_two_complete_the_return(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 5)]))
    out = await h.send(
        "return.inspected",
        ev.inspected(lines=[("SKU-1", 3, "restock"), ("SKU-1", 2, "scrap")]),
    )

    dispositioned = [e.data for e in out if e.type == "return.stock_dispositioned"]
    assert dispositioned == [
        {
            "rma_id": "RMA-1",
            "location": "DC-EAST",
            "sku": "SKU-1",
            "qty": 3,
            "disposition": "restock",
        },
        {
            "rma_id": "RMA-1",
            "location": "DC-EAST",
            "sku": "SKU-1",
            "qty": 2,
            "disposition": "scrap",
        },
    ]
    (item,) = h.rma("RMA-1").items
    assert (item.restock, item.scrap, item.awaiting_inspection) == (3, 2, 0)
    assert h.statuses("RMA-1") == ["authorized", "received", "completed"]


async def test_partial_inspection_keeps_received_until_every_unit_is_inspected(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 5)]))
    await h.send("return.inspected", ev.inspected(lines=[("SKU-1", 4, "refurbish")]))
    assert h.rma("RMA-1").status == "received"

    await h.send("return.inspected", ev.inspected(lines=[("SKU-1", 1, "return_to_vendor")]))
    assert h.rma("RMA-1").status == "completed"


async def test_every_received_unit_inspected_with_more_expected_is_inspected(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 2)]))
    await h.send("return.inspected", ev.inspected(lines=[("SKU-1", 2, "restock")]))

    assert h.rma("RMA-1").status == "inspected"
    assert h.pending("SKU-1", "DC-EAST") == 3


async def test_inspecting_more_than_received_is_rejected_and_saves_nothing(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 3)]))
    before = h.rma("RMA-1")
    published = len(h.published)

    with pytest.raises(Rejected, match="inspecting more than received"):
        await h.send(
            "return.inspected",
            ev.inspected(lines=[("SKU-1", 2, "restock"), ("SKU-1", 2, "scrap")]),
        )

    assert h.rma("RMA-1") == before
    assert len(h.published) == published


async def test_inspecting_units_received_elsewhere_is_rejected(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 5)], location="DC-WEST"))

    with pytest.raises(Rejected, match="at DC-EAST"):
        await h.send("return.inspected", ev.inspected(lines=[("SKU-1", 1, "restock")]))


async def test_inspection_of_an_unknown_rma_is_rejected(h, ev):
    with pytest.raises(Rejected, match="RMA-404"):
        await h.send("return.inspected", ev.inspected(rma_id="RMA-404"))
    assert h.store.get("rmas", {}) == {}


async def test_receipt_at_another_location_counts_against_the_authorization(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    out = await h.send("return.received", ev.received(lines=[("SKU-1", 5)], location="DC-WEST"))

    assert [e.data["location"] for e in out if e.type == "return.stock_received"] == ["DC-WEST"]
    assert h.pending("SKU-1", "DC-EAST") == 0
    assert h.rma("RMA-1").status == "received"
    await h.send(
        "return.inspected", ev.inspected(lines=[("SKU-1", 5, "restock")], location="DC-WEST")
    )
    assert h.rma("RMA-1").status == "completed"


async def test_authorization_with_nothing_to_return_rejects_the_rma(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5)]))
    await h.send("return.authorized", ev.authorized(lines=[]))

    assert h.statuses("RMA-1") == ["authorized", "rejected"]
    assert h.pending("SKU-1", "DC-EAST") == 0


async def test_receipt_with_only_empty_lines_for_an_unknown_rma_stores_nothing(h, ev):
    out = await h.send("return.received", ev.received(rma_id="RMA-0", lines=[("SKU-1", 0)]))
    assert out == []
    assert "RMA-0" not in h.store.get("rmas", {})
