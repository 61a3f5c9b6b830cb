"""Reading and writing X12 with pyx12: envelopes, control numbers and counts are checked by its
reader (`X12Reader`), trailers written by its writer (`X12Writer`); the segments become the
plain values of `ingress.domain.x12`."""

from __future__ import annotations

import io
from collections.abc import Iterable

import pyx12.errors
from pyx12.segment import Segment
from pyx12.x12file import X12Reader, X12Writer

from ingress.domain.x12 import Group, Interchange, Seg, SegError, TransactionSet


class X12Unreadable(ValueError):
    """Not an X12 interchange at all (no readable ISA): nothing can be acknowledged."""


def _seg(s: Segment) -> Seg:
    sid = s.get_seg_id() or ""
    return Seg(sid, tuple(s.get_value(f"{sid}{i:02d}") or "" for i in range(1, len(s) + 1)))


def read(text: str) -> Interchange:
    """The interchange, with every envelope error the reader found placed where it belongs."""
    try:
        reader = X12Reader(io.StringIO(text.lstrip("\ufeff").lstrip()))
    except (pyx12.errors.X12Error, IndexError, ValueError) as e:
        raise X12Unreadable(f"not an X12 interchange: {e}") from e
    ic: Interchange | None = None
    group: Group | None = None
    ts: TransactionSet | None = None
    position = 0
    try:
        for raw in reader:
            seg = _seg(raw)
            if seg.id == "ISA":
                ic = Interchange(
                    seg.get(5),
                    seg.get(6),
                    seg.get(7),
                    seg.get(8),
                    seg.get(13),
                    seg.get(12),
                    seg.get(15),
                )
            elif ic is None:
                raise X12Unreadable("the interchange does not start with ISA")
            elif seg.id == "GS":
                group = Group(seg.get(1), seg.get(2), seg.get(3), seg.get(6), seg.get(8))
                ic.groups.append(group)
            elif seg.id == "ST":
                ts = TransactionSet(seg.get(1), seg.get(2))
                position = 1
                if group is None:
                    group = Group("", "", "", "", "")
                    ic.groups.append(group)
                group.sets.append(ts)
            elif seg.id not in ("SE", "GE", "IEA") and ts is not None:
                position += 1
                ts.segments.append((position, seg))
            if seg.id == "SE":
                position += 1
            _place(reader.pop_errors(), ic, group, ts, position, seg.id)
            if seg.id == "SE":
                ts = None
    except pyx12.errors.X12Error as e:
        raise X12Unreadable(f"not an X12 interchange: {e}") from e
    if ic is None:
        raise X12Unreadable("no ISA segment")
    reader.cleanup()
    _place(reader.pop_errors(), ic, group, ts, position, "")
    return ic


def _place(
    errors: Iterable[tuple[str, str, str, str | None, int | None]],
    ic: Interchange | None,
    group: Group | None,
    ts: TransactionSet | None,
    position: int,
    seg_id: str,
) -> None:
    for level, code, reason, _value, _line in errors:
        if level == "isa" and ic is not None:
            ic.errors.append((code, reason))
        elif level == "gs" and group is not None:
            group.errors.append((code, reason))
        elif level == "st" and ts is not None:
            ts.set_errors.append((code, reason))
        elif level == "seg" and ts is not None:
            ts.seg_errors.append(SegError(position, seg_id, code, reason))
        elif ic is not None:
            ic.errors.append((code, reason))


def write(segments: Iterable[Seg]) -> str:
    """The segments as X12 text (`~` after each segment, `*` between elements, `>` within
    composites), with SE, GE and IEA added and counted."""
    out = io.StringIO()
    writer = X12Writer(out, seg_term="~", ele_term="*", subele_term=">", eol="\n")
    for s in segments:
        writer.Write(Segment("*".join((s.id, *s.elements)), "~", "*", ">"))
    writer.close()
    return out.getvalue()
