"""Outbound X12: the 997/999 acknowledgment of an interchange, and the 846 inventory advice.

Trailers (SE, GE, IEA) are left to the writer, which counts what it wrote. Codes are X12's:
AK5/IK5 and AK9 `A` accepted, `R` rejected, `P` partially accepted; the error codes come from
the reader (`ingress.x12io`) and the mappings (`x12_in`). A 999 answers a 005010 group, a 997
anything older.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ingress.domain.x12 import Group, Interchange, Seg, TransactionSet


@dataclass(frozen=True)
class Party:
    qualifier: str
    id: str


def interchange_header(
    sender: Party, receiver: Party, control: int, now: datetime, version: str, usage: str
) -> Seg:
    return Seg(
        "ISA",
        (
            "00",
            " " * 10,
            "00",
            " " * 10,
            sender.qualifier,
            sender.id[:15].ljust(15),
            receiver.qualifier,
            receiver.id[:15].ljust(15),
            now.strftime("%y%m%d"),
            now.strftime("%H%M"),
            "U" if version < "00501" else "^",
            version,
            f"{control % 10**9:09d}",
            "0",
            usage,
            ">",
        ),
    )


def _group(fid: str, sender: Party, receiver: Party, control: int, now: datetime, v: str) -> Seg:
    return Seg(
        "GS",
        (
            fid,
            sender.id,
            receiver.id,
            now.strftime("%Y%m%d"),
            now.strftime("%H%M"),
            str(control),
            "X",
            v,
        ),
    )


def is_999(group: Group) -> bool:
    return group.version.startswith("00501")


def _set_ack(ts: TransactionSet, five: bool, group_failed: bool) -> list[Seg]:
    segs = [Seg("AK2", (ts.code, ts.control, *(("005010X231A1",) if five else ())))]
    for e in ts.seg_errors:
        code = e.code if e.code.isdigit() else "8"
        segs.append(Seg("IK3" if five else "AK3", (e.seg_id, str(e.position), "", code)))
        if e.element is not None:
            segs.append(Seg("IK4" if five else "AK4", (str(e.element), "", e.element_code or "1")))
    codes = [c for c, _ in ts.set_errors if c.isdigit()]
    if rejected(ts) or group_failed:
        codes = codes or ["5"]
        segs.append(Seg("IK5" if five else "AK5", ("R", *codes[:5])))
    else:
        segs.append(Seg("IK5" if five else "AK5", ("A",)))
    return segs


def rejected(ts: TransactionSet) -> bool:
    return bool(ts.set_errors or ts.seg_errors)


def acknowledgment(ic: Interchange, us: Party, control: int, now: datetime) -> list[Seg]:
    """One 997 or 999 per functional group of `ic`, in one interchange back to its sender."""
    them = Party(ic.sender_qualifier, ic.sender)
    segs = [interchange_header(us, them, control, now, ic.version, ic.usage)]
    for n, g in enumerate(ic.groups, start=1):
        five = is_999(g)
        segs.append(
            _group("FA", Party("", us.id), Party("", g.sender), control * 10 + n, now, g.version)
        )
        segs.append(
            Seg("ST", ("999" if five else "997", f"{n:04d}", *(("005010X231A1",) if five else ())))
        )
        segs.append(Seg("AK1", (g.functional_id, g.control, *((g.version,) if five else ()))))
        accepted = 0
        for ts in g.sets:
            segs.extend(_set_ack(ts, five, bool(g.errors)))
            accepted += not rejected(ts) and not g.errors
        status = "A" if accepted == len(g.sets) and not g.errors else "P" if accepted else "R"
        group_codes = [c for c, _ in g.errors if c.isdigit()][:5]
        segs.append(
            Seg("AK9", (status, str(len(g.sets)), str(len(g.sets)), str(accepted), *group_codes))
        )
    return segs


@dataclass(frozen=True)
class Stock:
    sku: str
    on_hand: float
    available_to_sell: float


def _qty(q: float) -> str:
    return str(int(q)) if float(q).is_integer() else f"{q:.6f}".rstrip("0")


def inventory_advice(
    us: Party, them: Party, control: int, now: datetime, location: str, stock: list[Stock]
) -> list[Seg]:
    """An 846 for one location: per SKU, QTY 17 (on hand) and QTY 33 (available for sale), in
    base units (`EA`)."""
    segs = [
        interchange_header(us, them, control, now, "00401", "P"),
        _group("IB", us, them, control, now, "004010"),
        Seg("ST", ("846", "0001")),
        Seg(
            "BIA",
            (
                "00",
                "SI",
                f"{location}-{control}"[:30],
                now.strftime("%Y%m%d"),
                now.strftime("%H%M"),
            ),
        ),
        Seg("N1", ("WH", location[:60], "92", location[:80])),
    ]
    for s in stock:
        segs.append(Seg("LIN", ("", "SK", s.sku)))
        segs.append(Seg("QTY", ("17", _qty(s.on_hand), "EA")))
        segs.append(Seg("QTY", ("33", _qty(max(0.0, s.available_to_sell)), "EA")))
    segs.append(Seg("CTT", (str(len(stock)),)))
    return segs
