"""A purchase order's life: release, ASNs, receipts (held until the release), cancellation.

Every function is pure, `(state, event) -> (state, outcome)`, and gives the same end state
whatever order the ERP's and WMS's events arrive in: a receipt that arrives before its PO is
held on the PO document and checked when the release arrives; an ASN or a cancellation that
arrives first is kept and applied with it; a cancellation that arrives after receipts received
(event time) later than it re-checks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from receipt.domain.policy import RULES, Situation
from receipt.domain.purchase_order import (
    Asn,
    AsnLine,
    ExceptionRecord,
    Item,
    PoLine,
    PurchaseOrder,
    Receipt,
    ReceiptResult,
    derive_status,
    q,
    to_base,
    to_receipt,
    with_advised,
)
from receipt.domain.receiving import apply_receipt, blind_receipt
from receipt.domain.recheck import QuarantineMove, recheck
from receipt.messages import (
    AsnReceived,
    PoStatus,
    PurchaseOrderCancelled,
    PurchaseOrderReleased,
    ReceiptRecorded,
)
from shared.schema import Frozen


class Outcome(Frozen):
    """What a handler must publish and record after a lifecycle step."""

    results: tuple[ReceiptResult, ...] = ()  # receipts checked: one receipt.confirmed each
    exceptions: tuple[ExceptionRecord, ...] = ()  # PO-level: short receipts, re-checks
    moves: tuple[QuarantineMove, ...] = ()  # confirmed units a re-check put on or off hold
    status: PoStatus | None = None  # the PO's new status, only when it changed
    held: bool = False  # the receipt waits for its PO's release
    ignored: bool = False  # an older or repeated version of what is already known

    def all_exceptions(self) -> list[ExceptionRecord]:
        return [e for r in self.results for e in r.exceptions] + list(self.exceptions)

    def receipt_outcome(self) -> str:
        """What became of the one receipt `receive` was given: held, checked or blind."""
        return "held" if self.held else self.results[0].outcome


def release(
    po: PurchaseOrder | None,
    msg: PurchaseOrderReleased,
    at: datetime,
    items: Mapping[str, Item],
    default_tolerance_pct: float,
) -> tuple[PurchaseOrder, Outcome]:
    """Release (or amend, when newer) a PO, then check the receipts that were waiting for it.

    An amendment keeps each line's received counts; a line it no longer lists stays with
    ordered 0, so what was received on it is not lost. A cancelled PO stays cancelled.
    """
    cur = po or PurchaseOrder(po_id=msg.po_id)
    if cur.released and cur.released_at is not None and at <= cur.released_at:
        return cur, Outcome(ignored=True)
    old = {ln.line_id: ln for ln in cur.lines}
    lines: list[PoLine] = []
    for ml in msg.lines:
        prev = old.pop(ml.line_id, None)
        base = prev if prev is not None and prev.sku == ml.sku else None
        tol = ml.over_receipt_tolerance_pct
        lines.append(
            (base or PoLine(line_id=ml.line_id, sku=ml.sku)).model_copy(
                update={
                    "ordered": to_base(ml.qty, ml.uom, ml.sku, items),
                    "ordered_uom": ml.uom,
                    "ordered_qty_in_uom": ml.qty,
                    "tolerance_pct": default_tolerance_pct if tol is None else tol,
                    "lot_tracked": ml.lot_tracked,
                }
            )
        )
    lines += [ln.model_copy(update={"ordered": 0.0}) for ln in old.values()]
    new = cur.model_copy(
        update={
            "released": True,
            "released_at": at,
            "supplier_id": msg.supplier_id,
            "location": msg.location,
            "expected_date": msg.expected_date,
            "lines": tuple(lines),
            "held": (),
        }
    )
    new = with_advised(new)
    results: list[ReceiptResult] = []
    for r in sorted(cur.held, key=lambda r: (r.at, r.receipt_id)):
        new, res = apply_receipt(new, r)
        results.append(res)
    return _finish(po, new, results)


def cancel(
    po: PurchaseOrder | None, msg: PurchaseOrderCancelled, at: datetime
) -> tuple[PurchaseOrder, Outcome]:
    """Cancel a PO; one already partially received is closed short, line by line.

    The earliest cancellation (event time) wins, whichever arrives first. Receipts already
    counted on the PO but received after the cancellation are re-checked (`recheck.py`), so the
    end state is the one the cancellation arriving first would have given.
    """
    cur = po or PurchaseOrder(po_id=msg.po_id)
    if cur.cancelled_at is not None and at >= cur.cancelled_at:
        return cur, Outcome(ignored=True)
    new = cur.model_copy(update={"cancelled_at": at, "cancel_reason": msg.reason})
    new, raised, moves = recheck(new)
    return _finish(po, new, [], raised, moves)


def record_asn(
    po: PurchaseOrder | None, msg: AsnReceived, at: datetime, items: Mapping[str, Item]
) -> tuple[PurchaseOrder, Outcome]:
    """Keep the newest version of each ASN; ASNs set advised quantities and refine dates only."""
    cur = po or PurchaseOrder(po_id=msg.po_id)
    known = next((a for a in cur.asns if a.asn_id == msg.asn_id), None)
    if known is not None and at < known.at:
        return cur, Outcome(ignored=True)
    asn = Asn(
        asn_id=msg.asn_id,
        location=msg.location,
        expected_date=msg.expected_date,
        at=at,
        lines=tuple(
            AsnLine(
                po_line_id=ln.po_line_id, sku=ln.sku, qty=to_base(ln.qty, ln.uom, ln.sku, items)
            )
            for ln in msg.lines
        ),
    )
    asns = (*(a for a in cur.asns if a.asn_id != msg.asn_id), asn)
    return with_advised(cur.model_copy(update={"asns": asns})), Outcome()


def record_receipt(
    po: PurchaseOrder | None, msg: ReceiptRecorded, at: datetime, items: Mapping[str, Item]
) -> tuple[Receipt, PurchaseOrder | None, Outcome]:
    """The WMS's receipt in base units, checked as `receive` does."""
    receipt = to_receipt(msg, at, items)
    new, out = receive(po, receipt)
    return receipt, new, out


def receive(po: PurchaseOrder | None, receipt: Receipt) -> tuple[PurchaseOrder | None, Outcome]:
    """Check a receipt: blind without a PO, held until the release, else against the PO."""
    if receipt.po_id is None:
        return None, Outcome(results=(blind_receipt(receipt),))
    cur = po or PurchaseOrder(po_id=receipt.po_id)
    if not cur.released:
        return cur.model_copy(update={"held": (*cur.held, receipt)}), Outcome(held=True)
    new, res = apply_receipt(cur, receipt)
    return _finish(po, new, [res])


def _finish(
    before: PurchaseOrder | None,
    po: PurchaseOrder,
    results: list[ReceiptResult],
    raised: tuple[ExceptionRecord, ...] = (),
    moves: tuple[QuarantineMove, ...] = (),
) -> tuple[PurchaseOrder, Outcome]:
    status = derive_status(po)
    po = po.model_copy(update={"status": status})
    po, shorts = _close_short(po)
    prev = before.status if before is not None else None
    changed = status if status is not None and status != prev else None
    out = Outcome(results=tuple(results), exceptions=raised + shorts, status=changed, moves=moves)
    return po, out


def _close_short(po: PurchaseOrder) -> tuple[PurchaseOrder, tuple[ExceptionRecord, ...]]:
    """Once a cancelled PO has received something, each line still short raises short_receipt.

    The exception carries the latest receipt on the PO as its `receipt_id` (the contract
    requires one), and is raised once per PO.
    """
    received = any(ln.received > 0 for ln in po.lines)
    if po.status != "cancelled" or not po.released or po.short_raised or not received:
        return po, ()
    last = max(po.receipts, key=lambda r: (r.at, r.receipt_id))
    rule = RULES[Situation.SHORT]
    assert rule.kind is not None
    out = []
    for ln in po.lines:
        short = q(ln.ordered - ln.received)
        if short <= 0:
            continue
        detail = rule.detail.format(
            qty=short, sku=ln.sku, ordered=ln.ordered, line_id=ln.line_id, limit=0, tolerance=0
        )
        out.append(
            ExceptionRecord(
                id=f"{po.po_id}:{ln.line_id}:{rule.kind}",
                kind=rule.kind,
                receipt_id=last.receipt_id,
                po_id=po.po_id,
                po_line_id=ln.line_id,
                sku=ln.sku,
                qty=short,
                detail=detail,
                location=po.location or last.location,
                at=po.cancelled_at or last.at,
            )
        )
    return po.model_copy(update={"short_raised": True}), tuple(out)
