"""Checking one receipt against its purchase order: every received unit lands exactly once in
accepted or quarantined, and each non-accepted situation raises the exception `policy.RULES`
names for it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from receipt.domain.policy import RULES, Situation, acceptance_limit
from receipt.domain.purchase_order import (
    AppliedLine,
    ExceptionRecord,
    LotQty,
    PoLine,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    ReceiptResult,
    next_asn,
    q,
)


class _Ctx(defaultdict[str, Any]):
    """Template fields a situation does not provide render as `?` instead of failing."""

    def __missing__(self, key: str) -> str:
        return "?"


class _Acc:
    """Collects applied lines and exceptions of one receipt while its lines are checked."""

    def __init__(self, po: PurchaseOrder | None, receipt: Receipt) -> None:
        self.po_id = po.po_id if po is not None else None
        self.receipt = receipt
        self.lines: dict[str, PoLine] = {ln.line_id: ln for ln in po.lines} if po else {}
        self.applied: list[AppliedLine] = []
        self.exceptions: list[ExceptionRecord] = []

    def dispose(
        self, sit: Situation, qty: float, ref: str, rl: ReceiptLine, **ctx: Any
    ) -> tuple[float, float]:
        """(accepted, quarantined) for `qty` units in situation `sit`; raises its exception."""
        if qty <= 0:
            return 0.0, 0.0
        rule = RULES[sit]
        if rule.kind is not None:
            fields = _Ctx(None, {"qty": qty, "sku": rl.sku, "line_id": rl.po_line_id, **ctx})
            self.exceptions.append(
                ExceptionRecord(
                    id=f"{self.receipt.receipt_id}:{ref}:{rule.kind}",
                    kind=rule.kind,
                    receipt_id=self.receipt.receipt_id,
                    po_id=self.po_id,
                    po_line_id=ctx.get("line_id", rl.po_line_id),
                    sku=rl.sku,
                    qty=q(qty),
                    detail=rule.detail.format_map(fields),
                    location=self.receipt.location,
                    at=self.receipt.at,
                )
            )
        return (qty, 0.0) if rule.disposition == "accept" else (0.0, qty)

    def off_po(self, sit: Situation, ref: str, rl: ReceiptLine, **ctx: Any) -> None:
        """The whole line in one situation, counted on no PO line."""
        a, qu = self.dispose(sit, rl.qty, ref, rl, **ctx)
        self.applied.append(_applied(rl, None, rl.qty, a, qu, rl.damaged))

    def on_line(self, line: PoLine, qty: float, damaged: float, ref: str, rl: ReceiptLine) -> None:
        """`qty` units (of which `damaged`) counted against PO line `line`."""
        ctx = {"line_id": line.line_id, "ordered": line.ordered, "tolerance": line.tolerance_pct}
        limit = acceptance_limit(line.ordered, line.tolerance_pct)
        good = qty - damaged
        parts: list[tuple[Situation, float]] = [(Situation.DAMAGED, damaged)]
        if line.lot_tracked and rl.lot is None:
            parts.append((Situation.MISSING_LOT, good))
        else:
            within = min(good, max(0.0, limit - line.accepted))
            parts += [
                (Situation.WITHIN_TOLERANCE, within),
                (Situation.OVER_TOLERANCE, good - within),
            ]
        accepted = quarantined = 0.0
        for sit, n in parts:
            a, qu = self.dispose(sit, q(n), ref, rl, limit=q(limit), **ctx)
            accepted, quarantined = accepted + a, quarantined + qu
        self.lines[line.line_id] = line.model_copy(
            update={
                "received": q(line.received + qty),
                "accepted": q(line.accepted + accepted),
                "quarantined": q(line.quarantined + quarantined),
                "damaged": q(line.damaged + damaged),
                "lots": _add_lot(line.lots, rl.lot, qty),
            }
        )
        self.applied.append(_applied(rl, line.line_id, qty, accepted, quarantined, damaged))

    def substitute(self, line: PoLine, ref: str, rl: ReceiptLine) -> None:
        a, qu = self.dispose(
            Situation.SUBSTITUTE, rl.qty, ref, rl, line_id=line.line_id, **{"for": line.sku}
        )
        self.lines[line.line_id] = line.model_copy(
            update={"substituted": q(line.substituted + rl.qty)}
        )
        self.applied.append(_applied(rl, line.line_id, rl.qty, a, qu, rl.damaged))


def _applied(
    rl: ReceiptLine, line_id: str | None, qty: float, a: float, qu: float, damaged: float
) -> AppliedLine:
    return AppliedLine(
        po_line_id=line_id,
        sku=rl.sku,
        qty_received=q(qty),
        qty_accepted=q(a),
        qty_quarantined=q(qu),
        damaged=q(damaged),
        lot=rl.lot,
        substitute_for_sku=rl.substitute_for_sku,
    )


def _add_lot(lots: tuple[LotQty, ...], lot: str | None, qty: float) -> tuple[LotQty, ...]:
    if lot is None:
        return lots
    if any(x.lot == lot for x in lots):
        return tuple(LotQty(lot=x.lot, qty=q(x.qty + qty)) if x.lot == lot else x for x in lots)
    return (*lots, LotQty(lot=lot, qty=q(qty)))


def _matching(lines: dict[str, PoLine], po_line_id: str | None, sku: str) -> list[PoLine]:
    """PO lines a receipt line counts against: the named line if its SKU matches, else every
    line of that SKU in PO order."""
    named = lines.get(po_line_id) if po_line_id else None
    if named is not None and named.sku == sku:
        return [named]
    return [ln for ln in lines.values() if ln.sku == sku]


def _split(cands: list[PoLine], qty: float, damaged: float) -> list[tuple[PoLine, float, float]]:
    """Fill each candidate line up to its remaining quantity; the last one takes the rest."""
    out = []
    left, dmg_left = qty, damaged
    for i, ln in enumerate(cands):
        take = left if i == len(cands) - 1 else min(left, ln.remaining)
        dmg = min(dmg_left, take)
        if take > 0:
            out.append((ln, q(take), q(dmg)))
        left, dmg_left = q(left - take), q(dmg_left - dmg)
    return out


def _lateness(po: PurchaseOrder, receipt: Receipt) -> float | None:
    asn = next((a for a in po.asns if a.asn_id == receipt.asn_id), None)
    if asn is None:
        for rl in receipt.lines:
            found = _matching({ln.line_id: ln for ln in po.lines}, rl.po_line_id, rl.sku)
            asn = next_asn(po, found[0]) if found else None
            if asn is not None:
                break
    return (receipt.at - asn.expected_date).total_seconds() if asn is not None else None


def apply_receipt(po: PurchaseOrder, receipt: Receipt) -> tuple[PurchaseOrder, ReceiptResult]:
    """Check a receipt against a released PO; the PO's lines and receipt list are updated."""
    acc = _Acc(po, receipt)
    after_cancel = po.cancelled_at is not None and receipt.at > po.cancelled_at
    lateness = _lateness(po, receipt)
    for i, rl in enumerate(receipt.lines):
        if rl.qty <= 0:
            continue
        if after_cancel:
            acc.off_po(Situation.PO_CANCELLED, str(i), rl)
            continue
        if rl.substitute_for_sku is not None:
            target = _matching(acc.lines, rl.po_line_id, rl.substitute_for_sku)
            if target:
                acc.substitute(target[0], str(i), rl)
            else:
                acc.off_po(Situation.NOT_ON_PO, str(i), rl)
            continue
        cands = _matching(acc.lines, rl.po_line_id, rl.sku)
        if not cands:
            acc.off_po(Situation.NOT_ON_PO, str(i), rl)
            continue
        for j, (ln, qty, dmg) in enumerate(_split(cands, rl.qty, rl.damaged)):
            acc.on_line(acc.lines[ln.line_id], qty, dmg, f"{i}.{j}", rl)
    result = _result(acc, receipt, po.po_id, lateness)
    new = po.model_copy(
        update={
            "lines": tuple(acc.lines.values()),
            "receipts": (*po.receipts, result.model_copy(update={"exceptions": ()})),
        }
    )
    return new, result


def as_receipt(res: ReceiptResult) -> Receipt:
    """The receipt a result was checked from, one line per applied line, each pinned to the PO
    line it counted on, so that checking it again splits it the same way."""
    lines = tuple(
        ReceiptLine(
            po_line_id=al.po_line_id,
            sku=al.sku,
            qty=al.qty_received,
            damaged=al.damaged,
            lot=al.lot,
            substitute_for_sku=al.substitute_for_sku,
        )
        for al in res.lines
    )
    return Receipt(
        receipt_id=res.receipt_id, location=res.location, po_id=res.po_id, at=res.at, lines=lines
    )


def withdraw(po: PurchaseOrder, res: ReceiptResult) -> tuple[PurchaseOrder, ReceiptResult]:
    """A receipt counted on the PO before its cancellation was known, though received after it:
    what it counted on PO lines becomes unexpected and quarantined, as if the cancellation had
    come first; lines already off the PO stay as they were. The PO's lines are not touched."""
    receipt = as_receipt(res)
    acc = _Acc(po, receipt)
    for i, (al, rl) in enumerate(zip(res.lines, receipt.lines, strict=True)):
        if al.po_line_id is None:
            acc.applied.append(al)
        else:
            acc.off_po(Situation.PO_CANCELLED, f"{i}.cancelled", rl)
    result = _result(acc, receipt, po.po_id, res.asn_lateness_s)
    kept = result.model_copy(update={"exceptions": ()})
    return po.model_copy(update={"receipts": (*po.receipts, kept)}), result


def blind_receipt(receipt: Receipt) -> ReceiptResult:
    """A receipt with no PO: every unit arrives quarantined and is raised."""
    acc = _Acc(None, receipt)
    for i, rl in enumerate(receipt.lines):
        if rl.qty > 0:
            acc.off_po(Situation.BLIND, str(i), rl)
    return _result(acc, receipt, None, None)


def _result(acc: _Acc, r: Receipt, po_id: str | None, lateness: float | None) -> ReceiptResult:
    return ReceiptResult(
        receipt_id=r.receipt_id,
        po_id=po_id,
        location=r.location,
        at=r.at,
        lines=tuple(acc.applied),
        exceptions=tuple(acc.exceptions),
        asn_lateness_s=lateness,
    )
