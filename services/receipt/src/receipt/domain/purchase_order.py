"""A purchase order with its ASNs and receipts, and the items whose units they convert (pure).

Quantities held here are always in the item's base unit. Functions never mutate: they return
new frozen models. The PO lifecycle lives in `lifecycle.py`, receipt rules in `receiving.py`,
the per-(SKU, location) inbound summary in `inbound.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from receipt.messages import (
    ConfirmedLine,
    ExceptionKind,
    ItemUpdated,
    PoStatus,
    ReceiptRecorded,
    UtcDatetime,
)
from shared.errors import DeferredRejection
from shared.schema import Frozen


def q(x: float) -> float:
    """Round away float noise (and -0.0) so that sums of base quantities compare cleanly."""
    return round(x, 6) + 0.0


# ---- items and units --------------------------------------------------------------------------


class Conversion(Frozen):
    uom: str
    factor: float  # base units per `uom`


class Item(Frozen):
    sku: str
    base_uom: str
    conversions: tuple[Conversion, ...] = ()
    updated_at: UtcDatetime


def apply_item_update(item: Item | None, msg: ItemUpdated, at: datetime) -> Item | None:
    """The newer item master wins; an older update arriving late returns None (ignored)."""
    if item is not None and at < item.updated_at:
        return None
    convs = tuple(Conversion(uom=u, factor=f) for u, f in sorted(msg.uom_conversions.items()))
    return Item(sku=msg.sku, base_uom=msg.base_uom, conversions=convs, updated_at=at)


class UnknownUnit(DeferredRejection):
    """A quantity in a unit the item master does not define (yet). The `item.updated` that
    defines it may be in flight behind this message (reordered, or held by another replica), so
    the runtime retries through the delayed retry queues before dead-lettering it as rejected;
    once the conversion arrives, a replay from the DLQ applies it."""


def to_base(qty: float, uom: str | None, sku: str, items: Mapping[str, Item]) -> float:
    """Convert to base units; a unit with no known conversion is never guessed (UnknownUnit)."""
    if uom is None:
        return q(qty)
    item = items.get(sku)
    if item is None:
        raise UnknownUnit(
            f"{sku}: quantity in {uom!r} needs a unit conversion, but no item.updated "
            f"has been received for {sku}"
        )
    wanted = uom.strip().lower()
    if wanted == item.base_uom.strip().lower():
        return q(qty)
    for c in item.conversions:
        if c.uom.strip().lower() == wanted:
            return q(qty * c.factor)
    raise UnknownUnit(
        f"{sku}: no conversion from {uom!r} to base unit {item.base_uom!r} "
        f"(known: {', '.join(c.uom for c in item.conversions) or 'none'})"
    )


# ---- receipts ---------------------------------------------------------------------------------


class ReceiptLine(Frozen):
    po_line_id: str | None = None
    sku: str
    qty: float  # every unit received, damaged included
    damaged: float = 0.0
    lot: str | None = None
    substitute_for_sku: str | None = None


class Receipt(Frozen):
    receipt_id: str
    location: str
    po_id: str | None = None
    asn_id: str | None = None
    at: UtcDatetime  # event time at the WMS
    lines: tuple[ReceiptLine, ...]


def to_receipt(msg: ReceiptRecorded, at: datetime, items: Mapping[str, Item]) -> Receipt:
    lines = []
    for ln in msg.lines:
        qty = to_base(ln.qty_received, ln.uom, ln.sku, items)
        damaged = to_base(ln.qty_damaged or 0.0, ln.uom, ln.sku, items)
        lines.append(
            ReceiptLine(
                po_line_id=ln.po_line_id,
                sku=ln.sku,
                qty=qty,
                damaged=min(damaged, qty),
                lot=ln.lot,
                substitute_for_sku=ln.substitute_for_sku,
            )
        )
    return Receipt(
        receipt_id=msg.receipt_id,
        location=msg.location,
        po_id=msg.po_id,
        asn_id=msg.asn_id,
        at=at,
        lines=tuple(lines),
    )


class ExceptionRecord(Frozen):
    """One raised exception; `id` is deterministic, so raising it again is harmless."""

    id: str
    kind: ExceptionKind
    receipt_id: str
    po_id: str | None = None
    po_line_id: str | None = None
    sku: str
    qty: float
    detail: str
    location: str
    at: UtcDatetime


class AppliedLine(Frozen):
    po_line_id: str | None = None  # None: not counted on any PO line
    sku: str
    qty_received: float
    qty_accepted: float
    qty_quarantined: float
    damaged: float = 0.0  # of qty_received; kept so that the line can be checked again
    lot: str | None = None
    substitute_for_sku: str | None = None


class ReceiptResult(Frozen):
    """What one receipt did: the confirmation to publish and the exceptions it raised."""

    receipt_id: str
    po_id: str | None = None
    location: str
    at: UtcDatetime
    lines: tuple[AppliedLine, ...]
    exceptions: tuple[ExceptionRecord, ...] = ()
    asn_lateness_s: float | None = None  # receipt time minus the ASN's expected date

    @property
    def outcome(self) -> str:
        """How the receipt was checked: against its purchase order, or blind (without one)."""
        return "checked" if self.po_id else "blind"

    @property
    def counted_on_po(self) -> bool:
        """Did any of its units count against a PO line (and so need a re-check on cancel)?"""
        return any(ln.po_line_id is not None for ln in self.lines)

    def confirmed_lines(self) -> list[ConfirmedLine]:
        """Per (SKU, lot), every received unit exactly once: accepted or quarantined."""
        acc: dict[tuple[str, str | None], tuple[float, float]] = {}
        for ln in self.lines:
            a, qu = acc.get((ln.sku, ln.lot), (0.0, 0.0))
            acc[(ln.sku, ln.lot)] = (a + ln.qty_accepted, qu + ln.qty_quarantined)
        return [
            ConfirmedLine(sku=s, lot=lot, qty_accepted=q(a), qty_quarantined=q(qu))
            for (s, lot), (a, qu) in acc.items()
        ]


# ---- purchase orders --------------------------------------------------------------------------


class LotQty(Frozen):
    lot: str
    qty: float


class PoLine(Frozen):
    line_id: str
    sku: str
    ordered: float = 0.0  # base units
    ordered_uom: str | None = None  # the unit the ERP ordered in, for display
    ordered_qty_in_uom: float = 0.0
    tolerance_pct: float = 0.0
    lot_tracked: bool = False
    advised: float = 0.0  # sum over ASNs
    received: float = 0.0  # units counted against this line (damaged and over included)
    accepted: float = 0.0
    quarantined: float = 0.0
    damaged: float = 0.0
    substituted: float = 0.0  # units of other SKUs received in place of this line's SKU
    lots: tuple[LotQty, ...] = ()

    @property
    def remaining(self) -> float:
        return q(max(0.0, self.ordered - self.received))


class AsnLine(Frozen):
    po_line_id: str
    sku: str
    qty: float


class Asn(Frozen):
    asn_id: str
    location: str
    expected_date: UtcDatetime
    at: UtcDatetime  # event time of the version kept
    lines: tuple[AsnLine, ...]


class PurchaseOrder(Frozen):
    po_id: str
    released: bool = False
    released_at: UtcDatetime | None = None
    supplier_id: str | None = None
    location: str | None = None
    expected_date: UtcDatetime | None = None
    status: PoStatus | None = None  # None until released (or cancelled)
    cancelled_at: UtcDatetime | None = None
    cancel_reason: str | None = None
    short_raised: bool = False
    lines: tuple[PoLine, ...] = ()
    asns: tuple[Asn, ...] = ()
    receipts: tuple[ReceiptResult, ...] = ()
    held: tuple[Receipt, ...] = ()  # receipts that arrived before the release

    def line(self, line_id: str) -> PoLine | None:
        return next((ln for ln in self.lines if ln.line_id == line_id), None)


def derive_status(po: PurchaseOrder) -> PoStatus | None:
    if po.cancelled_at is not None:
        return "cancelled"
    if not po.released:
        return None
    if all(ln.received >= ln.ordered for ln in po.lines):
        return "received"
    if any(ln.received > 0 for ln in po.lines):
        return "partially_received"
    return "open"


def is_open(po: PurchaseOrder) -> bool:
    return po.released and po.status in ("open", "partially_received")


def with_advised(po: PurchaseOrder) -> PurchaseOrder:
    """Recompute each line's advised quantity from the ASNs kept (one version per asn_id)."""
    lines = tuple(
        ln.model_copy(
            update={
                "advised": q(
                    sum(al.qty for a in po.asns for al in a.lines if al.po_line_id == ln.line_id)
                )
            }
        )
        for ln in po.lines
    )
    return po.model_copy(update={"lines": lines})


def next_asn(po: PurchaseOrder, line: PoLine) -> Asn | None:
    """The ASN that carries the line's next unreceived unit, ASNs taken in expected-date order.

    Receipts need not name their ASN: quantity decides. Once a line has received everything
    the ASNs advised, none applies and the PO's own expected date is used again.
    """
    advised = 0.0
    for asn in sorted(po.asns, key=lambda a: (a.expected_date, a.asn_id)):
        qty = sum(al.qty for al in asn.lines if al.po_line_id == line.line_id)
        if qty <= 0:
            continue
        advised += qty
        if advised > line.received:
            return asn
    return None


def line_expected_date(po: PurchaseOrder, line: PoLine) -> datetime | None:
    asn = next_asn(po, line)
    return asn.expected_date if asn is not None else po.expected_date
