"""Inbound X12 transaction sets to event payloads: 856 ship notice -> `asn.received`.

A set that lacks what the event needs is refused with the segment errors an acknowledgment
reports (AK3/AK4 codes of X12: 3 mandatory segment missing, 8 segment has data element errors;
element 1 mandatory element missing, 8 invalid date). Quantities in a unit listed as a base unit
(`EA` by default) are sent without `uom`, as base units (contract §1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingress.domain.x12 import Seg, SegError, TransactionSet, x12_date, x12_time

MISSING_SEGMENT, ELEMENT_ERRORS = "3", "8"
ELEMENT_MISSING, BAD_DATE, BAD_NUMBER = "1", "8", "6"
# DTM qualifiers, in the order the expected date is taken from: 017 estimated delivery,
# 067 current schedule delivery, 011 shipped
DATE_QUALIFIERS = ("017", "067", "011")
# LIN product id qualifiers a SKU is read from, preferred first: SK SKU, BP buyer's part,
# VP vendor's part, IN buyer's item, UP UPC
SKU_QUALIFIERS = ("SK", "BP", "VP", "IN", "UP")


@dataclass
class Mapped:
    """What one set gives: the events' (type, data, time, correlation) and its errors."""

    events: list[tuple[str, dict[str, Any], str | None, str | None]] = field(default_factory=list)
    errors: list[SegError] = field(default_factory=list)


def _need(seg: Seg, pos: int, n: int, what: str, errors: list[SegError]) -> str:
    v = seg.get(n)
    if not v:
        errors.append(
            SegError(
                pos,
                seg.id,
                ELEMENT_ERRORS,
                f"{seg.id}{n:02d} ({what}) is missing",
                n,
                ELEMENT_MISSING,
            )
        )
    return v


def _sku(seg: Seg) -> str:
    pairs = [(seg.get(i), seg.get(i + 1)) for i in range(2, len(seg.elements), 2)]
    for q in SKU_QUALIFIERS:
        for qual, value in pairs:
            if qual == q and value:
                return value
    return ""


def map_856(ts: TransactionSet, base_uoms: frozenset[str]) -> Mapped:
    out = Mapped()
    errs = out.errors
    bsn = next(((p, s) for p, s in ts.segments if s.id == "BSN"), None)
    if bsn is None:
        errs.append(SegError(1, "BSN", MISSING_SEGMENT, "BSN (beginning segment) is missing"))
        return out
    bpos, bseg = bsn
    asn_id = _need(bseg, bpos, 2, "shipment identification", errs)
    time = x12_time(bseg.get(3), bseg.get(4))
    dates = {s.get(1): (p, s) for p, s in ts.segments if s.id == "DTM"}
    expected: str | None = None
    for q in DATE_QUALIFIERS:
        if q in dates:
            p, s = dates[q]
            expected = x12_date(s.get(2))
            if expected is None:
                errs.append(
                    SegError(
                        p, "DTM", ELEMENT_ERRORS, f"DTM02 {s.get(2)!r} is not a date", 2, BAD_DATE
                    )
                )
            break
    else:
        errs.append(
            SegError(
                bpos, "DTM", MISSING_SEGMENT, "no DTM with the expected date (017, 067 or 011)"
            )
        )
    location = ""
    orders: list[tuple[str, list[dict[str, Any]]]] = []
    pending: dict[str, Any] | None = None
    for pos, s in ts.segments:
        if s.id == "N1" and s.get(1) == "ST" and not location:
            location = s.get(4) or s.get(2)
        elif s.id == "PRF":
            orders.append((_need(s, pos, 1, "purchase order number", errs), []))
        elif s.id == "LIN":
            sku = _sku(s)
            if not sku:
                errs.append(
                    SegError(
                        pos,
                        "LIN",
                        ELEMENT_ERRORS,
                        "LIN names no SKU (SK, BP, VP, IN or UP)",
                        3,
                        ELEMENT_MISSING,
                    )
                )
            pending = {"po_line_id": s.get(1), "sku": sku, "pos": pos}
        elif s.id == "SN1" and pending is not None:
            line = _line(pending, s, pos, base_uoms, errs)
            if not orders:
                errs.append(
                    SegError(pos, "PRF", MISSING_SEGMENT, "an item comes before any PRF (order)")
                )
            elif line is not None:
                orders[-1][1].append(line)
            pending = None
    if not location:
        errs.append(
            SegError(bpos, "N1", MISSING_SEGMENT, "no N1*ST (ship-to) names the receiving location")
        )
    if not orders:
        errs.append(SegError(bpos, "PRF", MISSING_SEGMENT, "no PRF (purchase order reference)"))
    if errs:
        return out
    for po_id, lines in orders:
        if not lines:
            errs.append(
                SegError(bpos, "LIN", MISSING_SEGMENT, f"order {po_id} has no item (LIN and SN1)")
            )
            continue
        one = len(orders) == 1
        data = {
            "asn_id": asn_id if one else f"{asn_id}/{po_id}",
            "po_id": po_id,
            "location": location,
            "expected_date": expected,
            "lines": lines,
        }
        out.events.append(("asn.received", data, time, po_id))
    if errs:
        out.events.clear()
    return out


def _line(
    item: dict[str, Any], sn1: Seg, pos: int, base_uoms: frozenset[str], errs: list[SegError]
) -> dict[str, Any] | None:
    qty_text = _need(sn1, pos, 2, "number of units shipped", errs)
    try:
        qty = float(qty_text)
    except ValueError:
        if qty_text:
            errs.append(
                SegError(
                    pos, "SN1", ELEMENT_ERRORS, f"SN102 {qty_text!r} is not a number", 2, BAD_NUMBER
                )
            )
        return None
    if not item["po_line_id"]:
        errs.append(
            SegError(
                int(item["pos"]),
                "LIN",
                ELEMENT_ERRORS,
                "LIN01 (the PO line) is missing",
                1,
                ELEMENT_MISSING,
            )
        )
        return None
    line: dict[str, Any] = {"po_line_id": item["po_line_id"], "sku": item["sku"], "qty": qty}
    uom = sn1.get(3)
    if uom and uom.upper() not in base_uoms:
        line["uom"] = uom
    return line
