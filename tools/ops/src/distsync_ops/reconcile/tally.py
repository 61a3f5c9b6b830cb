"""What a stock reconciliation found: per key (`KeyResult`), totals per location, the largest
variances, the bad rows. Everything here is bounded: locations are few, the largest variances
are a heap of fixed size, bad rows beyond the first `MAX_BAD_KEPT` are only counted."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from distsync_ops.reconcile.quantities import MICRO, fmt_units, iso, units
from distsync_ops.reconcile.rows import BadRow

MAX_BAD_KEPT = 1_000


@dataclass(slots=True)
class KeyResult:
    """One (SKU, location): the snapshot's figures against distsync's at the snapshot's time.
    `variance` = snapshot - distsync (positive: the other system has more); None when
    distsync's figure at that time is not known (`unknown` says why)."""

    sku: str
    location: str
    line: int | None  # first snapshot line of the key; None when only distsync has it
    as_of: datetime
    snapshot: int  # micro base units
    distsync: int | None
    unknown: str | None = None
    later: int = 0  # distsync movements after as_of, not counted
    q_snapshot: int | None = None  # quarantined, when the snapshot has it
    q_distsync: int | None = None
    q_unknown: str | None = None

    @property
    def variance(self) -> int | None:
        return None if self.distsync is None else self.snapshot - self.distsync

    @property
    def q_variance(self) -> int | None:
        if self.q_snapshot is None or self.q_distsync is None:
            return None
        return self.q_snapshot - self.q_distsync

    def size(self) -> int:
        """How large the disagreement is, for ordering (on-hand and quarantined together)."""
        return abs(self.variance or 0) + abs(self.q_variance or 0)

    def to_dict(self) -> dict[str, Any]:
        def u(v: int | None) -> float | None:
            return None if v is None else units(v)

        return {
            "sku": self.sku,
            "location": self.location,
            "line": self.line,
            "as_of": iso(self.as_of),
            "snapshot_qty": u(self.snapshot),
            "distsync_qty": u(self.distsync),
            "variance": u(self.variance),
            "not_comparable": self.unknown,
            "distsync_moved_after_as_of": u(self.later),
            "snapshot_quarantined": u(self.q_snapshot),
            "distsync_quarantined": u(self.q_distsync),
            "quarantined_variance": u(self.q_variance),
            "quarantined_not_comparable": self.q_unknown,
        }

    def csv_row(self) -> list[str]:
        def t(v: int | None) -> str:
            return "" if v is None else fmt_units(v)

        return [
            self.sku,
            self.location,
            "" if self.line is None else str(self.line),
            iso(self.as_of) or "",
            t(self.snapshot),
            t(self.distsync),
            t(self.variance),
            self.unknown or "",
            t(self.q_snapshot),
            t(self.q_distsync),
            t(self.q_variance),
            self.q_unknown or "",
        ]


CSV_HEADER = [
    "sku",
    "location",
    "line",
    "as_of",
    "snapshot_qty",
    "distsync_qty",
    "variance",
    "not_comparable",
    "snapshot_quarantined",
    "distsync_quarantined",
    "quarantined_variance",
    "quarantined_not_comparable",
]


@dataclass(slots=True)
class LocationTotals:
    location: str
    keys: int = 0
    snapshot: int = 0
    distsync: int = 0
    net: int = 0
    absolute: int = 0
    keys_with_variance: int = 0
    keys_beyond_tolerance: int = 0
    not_comparable: int = 0
    quarantined_not_comparable: int = 0

    @property
    def rate(self) -> float | None:
        """Σ|variance| / Σ snapshot on-hand of the compared keys; None when nothing is counted
        at all but something differs (an infinite rate)."""
        if self.snapshot:
            return self.absolute / self.snapshot
        return 0.0 if not self.absolute else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "keys": self.keys,
            "snapshot_qty": self.snapshot / MICRO,
            "distsync_qty": self.distsync / MICRO,
            "net_variance": self.net / MICRO,
            "absolute_variance": self.absolute / MICRO,
            "variance_rate": self.rate,
            "keys_with_variance": self.keys_with_variance,
            "keys_beyond_tolerance": self.keys_beyond_tolerance,
            "not_comparable": self.not_comparable,
            "quarantined_not_comparable": self.quarantined_not_comparable,
        }


@dataclass
class Tally:
    tolerance: int = 0  # micro base units per key
    tolerance_rate: float | None = None
    top_n: int = 20
    rows: int = 0
    keys: int = 0
    bad_count: int = 0
    bad: list[BadRow] = field(default_factory=list)
    locations: dict[str, LocationTotals] = field(default_factory=dict)
    _top: list[tuple[int, int, KeyResult]] = field(default_factory=list)
    _seq: int = 0

    def add_bad(self, bad: BadRow) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_BAD_KEPT:
            self.bad.append(bad)

    def beyond(self, r: KeyResult) -> bool:
        return any(v is not None and abs(v) > self.tolerance for v in (r.variance, r.q_variance))

    def add(self, r: KeyResult) -> None:
        self.keys += 1
        t = self.locations.get(r.location)
        if t is None:
            t = self.locations[r.location] = LocationTotals(r.location)
        t.keys += 1
        if r.distsync is None:
            t.not_comparable += 1
        else:
            v = r.snapshot - r.distsync
            t.snapshot += r.snapshot
            t.distsync += r.distsync
            t.net += v
            t.absolute += abs(v)
        if r.q_unknown:
            t.quarantined_not_comparable += 1
        if r.q_variance:
            t.absolute += abs(r.q_variance)
        if r.size():
            t.keys_with_variance += 1
        if self.beyond(r):
            t.keys_beyond_tolerance += 1
        if r.size() or r.unknown:
            self._seq += 1
            item = (r.size(), -self._seq, r)
            if len(self._top) < self.top_n:
                heapq.heappush(self._top, item)
            elif self._top and item[:2] > self._top[0][:2]:
                heapq.heapreplace(self._top, item)

    def location_within_rate(self, t: LocationTotals) -> bool:
        if self.tolerance_rate is None:
            return False
        return t.rate is not None and t.rate <= self.tolerance_rate

    def ok(self) -> bool:
        """Within tolerance: no key beyond it, except at locations whose rate is within it."""
        return all(
            t.keys_beyond_tolerance == 0 or self.location_within_rate(t)
            for t in self.locations.values()
        )

    def top(self) -> list[KeyResult]:
        return [r for _, _, r in sorted(self._top, key=lambda x: x[:2], reverse=True)]

    def not_comparable(self) -> int:
        return sum(t.not_comparable for t in self.locations.values())
