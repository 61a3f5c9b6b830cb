"""Re-checking a PO's receipts once its cancellation is known, so that arrival order stops
mattering: a receipt received (event time) after the cancellation but handled before it was
counted on the PO; it must end quarantined as `unexpected_item`, exactly as when the
cancellation arrives first.

Receipt results are never published twice: what changes is put on (or taken off) hold with
the contract's `inventory.quarantined` / `inventory.released`, net per (SKU, location), and the
units withdrawn from the PO raise their `unexpected_item` exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable

from receipt.domain.policy import RECHECK_REASONS
from receipt.domain.purchase_order import ExceptionRecord, PoLine, PurchaseOrder, ReceiptResult, q
from receipt.domain.receiving import apply_receipt, as_receipt, withdraw
from receipt.messages import InventoryQuarantined, InventoryReleased
from shared.schema import Frozen


class QuarantineMove(Frozen):
    """Confirmed units of one (SKU, location) a re-check put on hold (qty > 0) or released from
    it (qty < 0); on hand does not change, the units are there either way."""

    sku: str
    location: str
    qty: float

    def event(self) -> tuple[str, InventoryQuarantined]:
        """The contract event that tells availability: its type and data."""
        if self.qty > 0:
            reason = RECHECK_REASONS["quarantined"]
            data = InventoryQuarantined(
                location=self.location, sku=self.sku, qty=self.qty, reason_code=reason
            )
            return "inventory.quarantined", data
        reason = RECHECK_REASONS["released"]
        data = InventoryReleased(
            location=self.location, sku=self.sku, qty=-self.qty, reason_code=reason
        )
        return "inventory.released", data


def recheck(
    po: PurchaseOrder,
) -> tuple[PurchaseOrder, tuple[ExceptionRecord, ...], tuple[QuarantineMove, ...]]:
    """Check the PO's receipts again, in the order they were applied, against its cancellation.

    Only when a receipt received after the cancellation still counts on the PO: its units are
    withdrawn (quarantined, `unexpected_item`), and the receipts before the cancellation are
    applied again to lines cleared of them, since withdrawn units may have used up tolerance
    that later receipts now get. Returns the PO, the new exceptions and the hold changes.
    """
    cut = po.cancelled_at
    if cut is None or not any(r.at > cut and r.counted_on_po for r in po.receipts):
        return po, (), ()
    new = po.model_copy(update={"lines": tuple(_cleared(ln) for ln in po.lines), "receipts": ()})
    raised: list[ExceptionRecord] = []
    for old in po.receipts:
        if old.at > cut:
            new, res = withdraw(new, old)
            raised += res.exceptions
        else:
            new, _ = apply_receipt(new, as_receipt(old))
    return new, tuple(raised), _moves(po.receipts, new.receipts)


def _cleared(line: PoLine) -> PoLine:
    return line.model_copy(
        update={
            "received": 0.0,
            "accepted": 0.0,
            "quarantined": 0.0,
            "damaged": 0.0,
            "substituted": 0.0,
            "lots": (),
        }
    )


def _held(results: Iterable[ReceiptResult]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for r in results:
        for ln in r.lines:
            out[(ln.sku, r.location)] = out.get((ln.sku, r.location), 0.0) + ln.qty_quarantined
    return out


def _moves(
    before: Iterable[ReceiptResult], after: Iterable[ReceiptResult]
) -> tuple[QuarantineMove, ...]:
    """Net change of what the receipts hold in quarantine, per (SKU, location)."""
    old, new = _held(before), _held(after)
    out = []
    for sku, location in sorted(set(old) | set(new)):
        delta = q(new.get((sku, location), 0.0) - old.get((sku, location), 0.0))
        if delta != 0:
            out.append(QuarantineMove(sku=sku, location=location, qty=delta))
    return tuple(out)
