"""X12 interchanges as plain values: what the reader (`ingress.x12io`, on pyx12) produces and
the mappings and acknowledgments of `x12_in` and `x12_out` work on. No I/O, no library types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Seg:
    """One segment: its id and its elements, `elements[0]` being element 01."""

    id: str
    elements: tuple[str, ...] = ()

    def get(self, n: int) -> str:
        """Element `n` (1-based), stripped; empty when absent."""
        return self.elements[n - 1].strip() if 0 < n <= len(self.elements) else ""


@dataclass(frozen=True)
class SegError:
    """A problem in one segment of a transaction set, as an acknowledgment reports it:
    `position` counts from ST = 1; `code` is the AK3/IK3 syntax error code; `element` and
    `element_code` (AK4/IK4) name the element when one is at fault."""

    position: int
    seg_id: str
    code: str
    reason: str
    element: int | None = None
    element_code: str | None = None


@dataclass
class TransactionSet:
    code: str  # ST01: 856, 940, 945...
    control: str  # ST02
    segments: list[tuple[int, Seg]] = field(default_factory=list)  # (position from ST = 1, seg)
    set_errors: list[tuple[str, str]] = field(default_factory=list)  # (AK5 code, reason)
    seg_errors: list[SegError] = field(default_factory=list)


@dataclass
class Group:
    functional_id: str  # GS01
    sender: str  # GS02
    receiver: str  # GS03
    control: str  # GS06
    version: str  # GS08, such as 004010 or 005010
    sets: list[TransactionSet] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (AK9 code, reason)


@dataclass
class Interchange:
    sender_qualifier: str
    sender: str
    receiver_qualifier: str
    receiver: str
    control: str  # ISA13
    version: str  # ISA12: 00401 or 00501
    usage: str  # ISA15: P production, T test
    groups: list[Group] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (TA1 note code, reason)

    @property
    def all_sets(self) -> list[tuple[Group, TransactionSet]]:
        return [(g, s) for g in self.groups for s in g.sets]


def x12_date(text: str) -> str | None:
    """CCYYMMDD (or YYMMDD) as an ISO calendar date, None when it is not a date."""
    t = text.strip()
    if len(t) == 6 and t.isdigit():
        t = "20" + t
    if len(t) != 8 or not t.isdigit():
        return None
    try:
        return date(int(t[:4]), int(t[4:6]), int(t[6:])).isoformat()
    except ValueError:
        return None


def x12_time(date: str, hhmm: str) -> str | None:
    """An RFC 3339 UTC time from an X12 date and HHMM[SS] time (X12 times carry no zone)."""
    day = x12_date(date)
    t = hhmm.strip()
    if day is None:
        return None
    if len(t) < 4 or not t[:4].isdigit() or int(t[:2]) > 23 or int(t[2:4]) > 59:
        return f"{day}T00:00:00Z"
    secs = t[4:6] if len(t) >= 6 and t[4:6].isdigit() and int(t[4:6]) < 60 else "00"
    return f"{day}T{t[:2]}:{t[2:4]}:{secs}Z"
