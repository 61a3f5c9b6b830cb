"""Inbound X12 warehouse documents: 945 shipping advice -> `shipment.shipped` (the warehouse
speaks as a WMS), 940 shipping order -> `order.allocated` (the depositor, as the ERP, commits the
order's lines to that warehouse).

Lines are the LX loops: a line's `line_id` is its `N9*LI` reference when there is one, else
`LX01`; its SKU the product id qualified `SK`, else `VN`, `BP`, `IN`, then the UPC. Error codes
as in `x12_in`. Only original orders (`W0501` = `N`) are taken, since `order.allocated` adds to
what an order holds and a replacement would add its lines twice.
"""

from __future__ import annotations

from typing import Any

from ingress.domain.x12 import Seg, SegError, TransactionSet, x12_time
from ingress.domain.x12_in import (
    BAD_NUMBER,
    ELEMENT_ERRORS,
    ELEMENT_MISSING,
    MISSING_SEGMENT,
    Mapped,
)

ITEM_QUALIFIERS = ("SK", "VN", "BP", "IN")
# Standard Carrier Alpha Codes of the carriers carrier-tracking knows by name; others pass as is
SCAC = {
    "UPSN": "ups",
    "UPSS": "ups",
    "FDEG": "fedex",
    "FDE": "fedex",
    "FDEN": "fedex",
    "FXFE": "fedex",
    "DHLC": "dhl",
    "DHL": "dhl",
    "USPS": "usps",
}
TRACKING = (("N9", "2I"), ("MAN", "CP"), ("N9", "CN"), ("N9", "BM"))


def _location(ts: TransactionSet) -> str:
    for want in ("SF", "WH"):
        for _, s in ts.segments:
            if s.id == "N1" and s.get(1) == want and (s.get(4) or s.get(2)):
                return s.get(4) or s.get(2)
    return ""


def _loops(ts: TransactionSet, item_seg: str) -> list[tuple[int, str, Seg | None, str]]:
    """(LX position, LX01, the item segment, the N9*LI reference) per LX loop."""
    loops: list[tuple[int, str, Seg | None, str]] = []
    for pos, s in ts.segments:
        if s.id == "LX":
            loops.append((pos, s.get(1), None, ""))
        elif loops and s.id == item_seg and loops[-1][2] is None:
            p, n, _, ref = loops[-1]
            loops[-1] = (p, n, s, ref)
        elif loops and s.id == "N9" and s.get(1) == "LI":
            p, n, item, _ = loops[-1]
            loops[-1] = (p, n, item, s.get(2))
    return loops


def _item_sku(seg: Seg, qualifier_at: int, upc_at: int) -> str:
    pairs = [(seg.get(i), seg.get(i + 1)) for i in range(qualifier_at, len(seg.elements), 2)]
    for q in ITEM_QUALIFIERS:
        for qual, value in pairs:
            if qual == q and value:
                return value
    return seg.get(upc_at)


def _lines(
    ts: TransactionSet,
    item_seg: str,
    qty_at: int,
    uom_at: int,
    qualifier_at: int,
    upc_at: int,
    base_uoms: frozenset[str],
    errs: list[SegError],
) -> list[dict[str, Any]]:
    out = []
    for pos, lx, item, ref in _loops(ts, item_seg):
        if item is None:
            errs.append(SegError(pos, item_seg, MISSING_SEGMENT, f"LX {lx} has no {item_seg}"))
            continue
        sku = _item_sku(item, qualifier_at, upc_at)
        if not sku:
            errs.append(
                SegError(
                    pos,
                    item_seg,
                    ELEMENT_ERRORS,
                    f"{item_seg} names no item",
                    qualifier_at + 1,
                    ELEMENT_MISSING,
                )
            )
        text = item.get(qty_at)
        try:
            qty = float(text)
        except ValueError:
            code = BAD_NUMBER if text else ELEMENT_MISSING
            errs.append(
                SegError(
                    pos,
                    item_seg,
                    ELEMENT_ERRORS,
                    f"{item_seg}{qty_at:02d} {text!r} is not a quantity",
                    qty_at,
                    code,
                )
            )
            continue
        line: dict[str, Any] = {"line_id": ref or lx, "sku": sku, "qty": qty}
        uom = item.get(uom_at)
        if uom and uom.upper() not in base_uoms:
            line["uom"] = uom
        out.append(line)
    if not out and not errs:
        errs.append(SegError(1, "LX", MISSING_SEGMENT, "no line (LX loop)"))
    return out


def _first(ts: TransactionSet, seg_id: str) -> tuple[int, Seg] | None:
    return next(((p, s) for p, s in ts.segments if s.id == seg_id), None)


def map_945(ts: TransactionSet, base_uoms: frozenset[str]) -> Mapped:
    out, errs = Mapped(), []
    w06 = _first(ts, "W06")
    if w06 is None:
        out.errors.append(SegError(1, "W06", MISSING_SEGMENT, "W06 (beginning segment) is missing"))
        return out
    pos, seg = w06
    order_id, shipment_id = seg.get(2), seg.get(4)
    for n, v, what in (
        (2, order_id, "depositor order number"),
        (4, shipment_id, "shipment identification"),
    ):
        if not v:
            errs.append(
                SegError(
                    pos,
                    "W06",
                    ELEMENT_ERRORS,
                    f"W06{n:02d} ({what}) is missing",
                    n,
                    ELEMENT_MISSING,
                )
            )
    location = _location(ts)
    if not location:
        errs.append(SegError(pos, "N1", MISSING_SEGMENT, "no N1*SF or N1*WH names the warehouse"))
    w27 = _first(ts, "W27")
    carrier = SCAC.get(w27[1].get(2).upper(), w27[1].get(2)) if w27 else ""
    if not carrier:
        errs.append(SegError(pos, "W27", MISSING_SEGMENT, "no W27 names the carrier (W2702)"))
    tracking = next(
        (
            s.get(2)
            for sid, q in TRACKING
            for _, s in ts.segments
            if s.id == sid and s.get(1) == q and s.get(2)
        ),
        "",
    )
    if not tracking:
        errs.append(
            SegError(
                pos, "N9", MISSING_SEGMENT, "no tracking number (N9*2I, MAN*CP, N9*CN or N9*BM)"
            )
        )
    lines = _lines(ts, "W12", 3, 5, 7, 6, base_uoms, errs)
    out.errors.extend(errs)
    if errs:
        return out
    shipped = next((s for _, s in ts.segments if s.id == "G62" and s.get(1) == "11"), None)
    time = x12_time(shipped.get(2), shipped.get(4)) if shipped else None
    data = {
        "shipment_id": shipment_id,
        "order_id": order_id,
        "location": location,
        "carrier": carrier,
        "tracking_number": tracking,
        "lines": lines,
    }
    out.events.append(("shipment.shipped", data, time, order_id))
    return out


def map_940(ts: TransactionSet, base_uoms: frozenset[str]) -> Mapped:
    out, errs = Mapped(), []
    w05 = _first(ts, "W05")
    if w05 is None:
        out.errors.append(SegError(1, "W05", MISSING_SEGMENT, "W05 (beginning segment) is missing"))
        return out
    pos, seg = w05
    if seg.get(1) != "N":
        errs.append(
            SegError(
                pos,
                "W05",
                ELEMENT_ERRORS,
                f"W0501 {seg.get(1)!r}: only original orders (N) are taken",
                1,
                "7",
            )
        )
    order_id = seg.get(2)
    if not order_id:
        errs.append(
            SegError(
                pos,
                "W05",
                ELEMENT_ERRORS,
                "W0502 (depositor order number) is missing",
                2,
                ELEMENT_MISSING,
            )
        )
    location = _location(ts)
    if not location:
        errs.append(SegError(pos, "N1", MISSING_SEGMENT, "no N1*SF or N1*WH names the warehouse"))
    lines = _lines(ts, "W01", 1, 2, 4, 3, base_uoms, errs)
    out.errors.extend(errs)
    if errs:
        return out
    allocated = [{**ln, "location": location} for ln in lines]
    out.events.append(
        ("order.allocated", {"order_id": order_id, "lines": allocated}, None, order_id)
    )
    return out
