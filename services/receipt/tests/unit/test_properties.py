"""Properties over random purchase orders and receipts, on the pure domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from receipt.domain import lifecycle
from receipt.domain.policy import acceptance_limit
from receipt.domain.purchase_order import PurchaseOrder, Receipt, ReceiptLine, ReceiptResult
from receipt.domain.recheck import QuarantineMove
from receipt.messages import PoLineIn, PurchaseOrderCancelled, PurchaseOrderReleased

T0 = datetime(2026, 11, 27, tzinfo=UTC)
SKUS = ["A", "B", "C", "Z"]  # Z is never on the PO

po_lines = st.lists(
    st.builds(
        lambda sku, qty, tol, lot: (sku, qty, tol, lot),
        st.sampled_from(SKUS[:3]),
        st.integers(0, 20),
        st.sampled_from([None, 0, 10]),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def receipt_line(draw: st.DrawFn) -> ReceiptLine:
    qty = draw(st.integers(0, 30))
    return ReceiptLine(
        po_line_id=draw(st.sampled_from([None, "1", "2", "9"])),
        sku=draw(st.sampled_from(SKUS)),
        qty=qty,
        damaged=draw(st.integers(0, qty)),
        lot=draw(st.sampled_from([None, "L1"])),
        substitute_for_sku=draw(st.sampled_from([None, None, None, "A"])),
    )


receipts = st.lists(st.lists(receipt_line(), min_size=1, max_size=3), min_size=1, max_size=4)


def _release(lines: list) -> PurchaseOrderReleased:
    return PurchaseOrderReleased(
        po_id="PO-1",
        supplier_id="S",
        location="DC",
        expected_date=T0,
        lines=[
            PoLineIn(
                line_id=str(i + 1),
                sku=sku,
                qty=qty,
                over_receipt_tolerance_pct=tol,
                lot_tracked=lot,
            )
            for i, (sku, qty, tol, lot) in enumerate(lines)
        ],
    )


def _receipts(batches: list[list[ReceiptLine]]) -> list[Receipt]:
    return [
        Receipt(
            receipt_id=f"R-{i}",
            location="DC",
            po_id="PO-1",
            at=T0 + timedelta(hours=i + 1),
            lines=tuple(lines),
        )
        for i, lines in enumerate(batches)
    ]


@settings(max_examples=300, deadline=None)
@given(po_lines, receipts, st.booleans())
def test_every_received_unit_is_confirmed_exactly_once_whatever_the_order(lines, batches, early):
    release = _release(lines)
    po = None
    results = []
    if not early:
        po, out = lifecycle.release(po, release, T0, {}, 0.0)
        results += out.results
    for r in _receipts(batches):
        po, out = lifecycle.receive(po, r)
        results += out.results
    if early:
        po, out = lifecycle.release(po, release, T0, {}, 0.0)
        results += out.results
    assert po is not None

    received = sum(ln.qty for b in batches for ln in b)
    confirmed = sum(
        c.qty_accepted + c.qty_quarantined for r in results for c in r.confirmed_lines()
    )
    assert confirmed == received
    for ln in po.lines:
        assert ln.accepted + ln.quarantined == ln.received
        assert ln.accepted <= acceptance_limit(ln.ordered, ln.tolerance_pct) + 1e-9
        if ln.lot_tracked:
            assert sum(x.qty for x in ln.lots) <= ln.received


@settings(max_examples=200, deadline=None)
@given(po_lines, receipts)
def test_receipts_held_before_the_release_end_in_the_same_state_as_in_order(lines, batches):
    release = _release(lines)
    in_order, _ = lifecycle.release(None, release, T0, {}, 0.0)
    held = None
    for r in _receipts(batches):
        in_order, _ = lifecycle.receive(in_order, r)
        held, _ = lifecycle.receive(held, r)
    held, _ = lifecycle.release(held, release, T0, {}, 0.0)
    assert held is not None and in_order is not None

    assert held.lines == in_order.lines
    assert held.status == in_order.status
    assert held.receipts == in_order.receipts


distinct_po_lines = st.lists(
    st.builds(
        lambda sku, qty, tol, lot: (sku, qty, tol, lot),
        st.sampled_from(SKUS[:3]),
        st.integers(0, 20),
        st.sampled_from([None, 0, 10]),
        st.booleans(),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda x: x[0],
)


def _net(
    results: list[ReceiptResult], moves: list[QuarantineMove]
) -> dict[tuple[str, str], tuple[float, float]]:
    """Per (SKU, location), (on hand, quarantined) as availability adds the events up."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for r in results:
        for c in r.confirmed_lines():
            a, b = out.get((c.sku, r.location), (0.0, 0.0))
            out[(c.sku, r.location)] = (
                a + c.qty_accepted + c.qty_quarantined,
                b + c.qty_quarantined,
            )
    for m in moves:
        a, b = out.get((m.sku, m.location), (0.0, 0.0))
        out[(m.sku, m.location)] = (a, b + m.qty)
    return {k: (round(a, 6), round(b, 6)) for k, (a, b) in out.items()}


def _play(steps: list[tuple[datetime, str, Any]]) -> tuple[Any, ...]:
    po: PurchaseOrder | None = None
    results: list[ReceiptResult] = []
    moves: list[QuarantineMove] = []
    for at, kind, payload in steps:
        if kind == "release":
            po, out = lifecycle.release(po, payload, at, {}, 0.0)
        elif kind == "cancel":
            po, out = lifecycle.cancel(po, payload, at)
        else:
            po, out = lifecycle.receive(po, payload)
        results += out.results
        moves += out.moves
    assert po is not None
    return po.status, po.cancelled_at, po.lines, _net(results, moves)


@settings(max_examples=300, deadline=None)
@given(distinct_po_lines, receipts, st.integers(0, 4), st.booleans(), st.data())
def test_a_cancellation_ends_in_the_same_state_whatever_the_arrival_order(
    lines, batches, cancel_after, second_cancel, data
):
    cancel = PurchaseOrderCancelled(po_id="PO-1")
    steps: list[tuple[datetime, str, Any]] = [(T0, "release", _release(lines))]
    steps += [(r.at, "receipt", r) for r in _receipts(batches)]
    steps.append((T0 + timedelta(hours=cancel_after + 0.5), "cancel", cancel))
    if second_cancel:
        steps.append((T0 + timedelta(hours=cancel_after + 1.5), "cancel", cancel))
    in_order = sorted(steps, key=lambda s: s[0])
    shuffled = data.draw(st.permutations(steps))

    assert _play(shuffled) == _play(in_order)
