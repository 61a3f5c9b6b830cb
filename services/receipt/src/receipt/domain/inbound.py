"""Inbound supply per (SKU, location): what open PO lines still expect, and the next date.

Handlers work by key, so each (SKU, location) keeps one document listing every open PO line's
remaining quantity and expected date. A PO change replaces that PO's entries; the absolute
total is published as `inbound.changed` only when the total or the next date changes.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from receipt.domain.purchase_order import PurchaseOrder, is_open, line_expected_date, q
from receipt.messages import InboundChanged, UtcDatetime
from shared.schema import Frozen


class InboundEntry(Frozen):
    po_id: str
    line_id: str
    remaining: float  # max(0, ordered - received), base units
    expected_date: UtcDatetime | None = None


class Inbound(Frozen):
    sku: str
    location: str
    entries: tuple[InboundEntry, ...] = ()
    emitted_qty: float = 0.0
    emitted_date: date | None = None
    emitted_time: UtcDatetime | None = None  # `time` of the last inbound.changed published

    @property
    def total(self) -> float:
        return q(sum(e.remaining for e in self.entries))

    @property
    def next_date(self) -> date | None:
        dates = [e.expected_date for e in self.entries if e.expected_date is not None]
        return min(dates).date() if dates else None


def key(sku: str, location: str) -> str:
    """Document key; JSON keeps any SKU or site code unambiguous."""
    return json.dumps([sku, location], separators=(",", ":"))


Contributions = dict[tuple[str, str], tuple[InboundEntry, ...]]


def contributions(po: PurchaseOrder | None) -> Contributions:
    """Each PO line's entry under its (SKU, PO location); lines of a closed PO expect nothing."""
    if po is None or not po.released or po.location is None:
        return {}
    out: dict[tuple[str, str], list[InboundEntry]] = {}
    for ln in po.lines:
        entry = InboundEntry(
            po_id=po.po_id,
            line_id=ln.line_id,
            remaining=ln.remaining if is_open(po) else 0.0,
            expected_date=line_expected_date(po, ln),
        )
        out.setdefault((ln.sku, po.location), []).append(entry)
    return {k: tuple(v) for k, v in out.items()}


def affected(
    before: PurchaseOrder | None, after: PurchaseOrder
) -> list[tuple[tuple[str, str], tuple[InboundEntry, ...]]]:
    """Every (SKU, location) the PO touched before or touches now, with its entries now."""
    now = contributions(after)
    keys = set(now) | set(contributions(before))
    return [(k, now.get(k, ())) for k in sorted(keys)]


def apply(
    inbound: Inbound | None,
    sku: str,
    location: str,
    po_id: str,
    entries: tuple[InboundEntry, ...],
    now: datetime,
) -> tuple[Inbound, InboundChanged | None, datetime | None]:
    """Replace `po_id`'s entries; returns (state, event to publish or None, its time).

    The time is always later than the previous one's, so a consumer ordering these absolute
    values by event time always keeps the latest state.
    """
    cur = inbound or Inbound(sku=sku, location=location)
    kept = [e for e in cur.entries if e.po_id != po_id]
    kept += [e for e in entries if e.remaining > 0]
    new = cur.model_copy(
        update={"entries": tuple(sorted(kept, key=lambda e: (e.po_id, e.line_id)))}
    )
    total, next_date = new.total, new.next_date
    if total == cur.emitted_qty and next_date == cur.emitted_date:
        return new, None, None
    t = _after(now, cur.emitted_time)
    new = new.model_copy(
        update={"emitted_qty": total, "emitted_date": next_date, "emitted_time": t}
    )
    event = InboundChanged(
        sku=sku, location=location, inbound_qty=total, next_expected_date=next_date
    )
    return new, event, t


_MS = timedelta(milliseconds=1)


def _after(now: datetime, last: datetime | None) -> datetime:
    """`now` at the envelope's millisecond precision, but strictly after `last`.

    Equal times would leave the order to the consumer's tie-break (the random event id), so a
    clock that is behind, or two changes within one millisecond, still step forward by 1 ms.
    """
    t = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return t if last is None or t > last else last + _MS
