"""Receipt rules: what is accepted, what is quarantined, and which exception is raised."""

from __future__ import annotations

import pytest

from receipt.domain.purchase_order import UnknownUnit
from shared.errors import DeferredRejection


def _confirmed_line(svc, sku: str) -> dict:
    lines = [ln for ev in svc.events("receipt.confirmed") for ln in ev["lines"]]
    return next(ln for ln in lines if ln["sku"] == sku)


def _acc_quar(svc, sku: str) -> tuple[float, float]:
    """(qty_accepted, qty_quarantined) of the first confirmed line for `sku`."""
    ln = _confirmed_line(svc, sku)
    return ln["qty_accepted"], ln["qty_quarantined"]


async def test_full_receipt_is_accepted_and_closes_the_purchase_order(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 10, po_line_id="1")], time=svc.at(1.5))

    assert svc.events("receipt.confirmed") == [
        {
            "receipt_id": "R-1",
            "po_id": "PO-1",
            "location": "DC-EAST",
            "lines": [{"sku": "SKU-A", "qty_accepted": 10.0, "qty_quarantined": 0.0}],
            "received_at": "2026-11-27T09:30:00Z",
        }
    ]
    assert svc.exceptions() == []
    assert svc.statuses("PO-1") == ["open", "received"]
    line = svc.line("PO-1", "1")
    assert (line["received"], line["accepted"], line["quarantined"]) == (10.0, 10.0, 0.0)


async def test_partial_receipt_accepts_what_arrived_and_marks_the_po_partially_received(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10), svc.pl("2", "SKU-B", 5)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)])

    assert _acc_quar(svc, "SKU-A") == (4.0, 0.0)
    assert svc.exceptions() == []
    assert svc.statuses("PO-1") == ["open", "partially_received"]
    assert svc.inbound("SKU-A")["inbound_qty"] == 6.0


async def test_quantity_within_tolerance_is_accepted_without_exception(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 100, over_receipt_tolerance_pct=5)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 105)])

    assert _confirmed_line(svc, "SKU-A")["qty_accepted"] == 105.0
    assert svc.exceptions() == []


async def test_quantity_beyond_tolerance_is_quarantined_and_raises_over_receipt(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 100, over_receipt_tolerance_pct=5)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 110)])

    assert _acc_quar(svc, "SKU-A") == (105.0, 5.0)
    [exc] = svc.exceptions()
    assert (exc["kind"], exc["qty"], exc["sku"], exc["po_id"]) == (
        "over_receipt",
        5.0,
        "SKU-A",
        "PO-1",
    )
    assert "tolerance 5%" in exc["detail"]


async def test_default_tolerance_is_zero_so_any_extra_unit_is_over_receipt(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 11)])

    assert _confirmed_line(svc, "SKU-A")["qty_quarantined"] == 1.0
    assert [e["kind"] for e in svc.exceptions()] == ["over_receipt"]


async def test_damaged_units_are_quarantined_and_raise_damaged(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 10, qty_damaged=3)])

    assert _acc_quar(svc, "SKU-A") == (7.0, 3.0)
    [exc] = svc.exceptions()
    assert (exc["kind"], exc["qty"]) == ("damaged", 3.0)
    assert svc.line("PO-1", "1")["received"] == 10.0  # damaged units were received all the same


async def test_replacement_for_damaged_units_is_accepted_up_to_the_ordered_quantity(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 10, qty_damaged=2)])
    await svc.receive("R-2", "PO-1", [svc.rl("SKU-A", 2)])

    assert svc.confirmed_totals() == {"SKU-A": (10.0, 2.0)}
    assert [e["kind"] for e in svc.exceptions()] == ["damaged"]


async def test_substitute_is_quarantined_and_raises_substitution_without_filling_the_line(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A2", 10, substitute_for_sku="SKU-A")])

    assert _acc_quar(svc, "SKU-A2") == (0.0, 10.0)
    [exc] = svc.exceptions()
    assert (exc["kind"], exc["sku"], exc["qty"]) == ("substitution", "SKU-A2", 10.0)
    line = svc.line("PO-1", "1")
    assert (line["received"], line["substituted"]) == (0.0, 10.0)
    assert svc.inbound("SKU-A")["inbound_qty"] == 10.0  # the ordered SKU is still expected


async def test_item_not_on_the_po_is_quarantined_and_raises_unexpected_item(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 10), svc.rl("SKU-Z", 4)])

    assert svc.confirmed_totals() == {"SKU-A": (10.0, 0.0), "SKU-Z": (0.0, 4.0)}
    [exc] = svc.exceptions()
    assert (exc["kind"], exc["sku"], exc["qty"]) == ("unexpected_item", "SKU-Z", 4.0)


async def test_receipt_line_naming_a_line_of_another_sku_is_unexpected(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-Z", 3, po_line_id="1")])

    assert [e["kind"] for e in svc.exceptions()] == ["unexpected_item"]
    assert svc.line("PO-1", "1")["received"] == 0.0


async def test_blind_receipt_is_quarantined_and_raised_as_unexpected_item(svc):
    await svc.receive("R-1", None, [svc.rl("SKU-A", 6, lot="L1")], time=svc.at(2))

    assert svc.events("receipt.confirmed") == [
        {
            "receipt_id": "R-1",
            "location": "DC-EAST",
            "lines": [{"sku": "SKU-A", "qty_accepted": 0.0, "qty_quarantined": 6.0, "lot": "L1"}],
            "received_at": "2026-11-27T10:00:00Z",
        }
    ]
    [exc] = svc.exceptions()
    assert (exc["kind"], exc["qty"]) == ("unexpected_item", 6.0)
    assert "blind receipt" in exc["detail"]
    assert "po_id" not in exc
    assert "purchase_orders" not in svc.store


async def test_lot_tracked_line_keeps_the_lots_received(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10, lot_tracked=True)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 6, lot="L1"), svc.rl("SKU-A", 4, lot="L2")])

    assert svc.exceptions() == []
    assert svc.line("PO-1", "1")["lots"] == [{"lot": "L1", "qty": 6.0}, {"lot": "L2", "qty": 4.0}]
    lines = svc.events("receipt.confirmed")[0]["lines"]
    assert [(ln["lot"], ln["qty_accepted"]) for ln in lines] == [("L1", 6.0), ("L2", 4.0)]


async def test_lot_tracked_line_without_a_lot_is_quarantined_and_raises_missing_lot(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10, lot_tracked=True)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 10, qty_damaged=1)])

    assert _acc_quar(svc, "SKU-A") == (0.0, 10.0)
    kinds = {e["kind"]: e["qty"] for e in svc.exceptions()}
    assert kinds == {"damaged": 1.0, "missing_lot": 9.0}
    assert svc.line("PO-1", "1")["received"] == 10.0


async def test_receipt_without_line_ids_fills_lines_of_the_same_sku_in_po_order(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10), svc.pl("2", "SKU-A", 10)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 15)])

    assert (svc.line("PO-1", "1")["received"], svc.line("PO-1", "2")["received"]) == (10.0, 5.0)
    assert svc.exceptions() == []
    assert svc.inbound("SKU-A")["inbound_qty"] == 5.0


async def test_quantities_in_a_pack_unit_are_converted_to_base_units(svc):
    await svc.item("SKU-A", "EA", {"CS": 12})
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 2, uom="CS")])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 25, uom="ea")])

    assert svc.line("PO-1", "1")["ordered"] == 24.0
    assert _acc_quar(svc, "SKU-A") == (24.0, 1.0)


async def test_quantity_in_a_unit_without_conversion_is_deferred_and_nothing_saved(svc):
    await svc.item("SKU-A", "EA", {"CS": 12})
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)])
    # retried first (the item.updated may be behind it), dead-lettered as rejected after that
    with pytest.raises(UnknownUnit, match="no conversion from 'PAL'") as e1:
        await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 1, uom="PAL")])
    with pytest.raises(UnknownUnit, match=r"no item\.updated") as e2:
        await svc.release("PO-2", [svc.pl("1", "SKU-NEW", 1, uom="CS")])
    assert isinstance(e1.value, DeferredRejection) and e2.value.kind == "rejected"

    assert "receipts" not in svc.store
    assert svc.events("receipt.confirmed") == []
