"""A position placed at the snapshot's time (pure).

availability keeps, per position, the on-hand it had at its latest count or at the last folded
movement (`on_hand_base`) and every later on-hand movement with its event time (`movements`,
contract §5 "Counts"). So on-hand as of a time T is the base plus the movements at or before T,
as long as T is not before the base: neither before the latest count (the count replaced what
came before it) nor before `folded_through` (older movements were added into the base). Such a
key is reported as not comparable, never as a variance.

The other buckets keep no history. Quarantined stock is compared only when the position has
no event later than T (`as_of` ≤ T); otherwise it is reported as not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from distsync_ops.reconcile.quantities import ms, stored_micro

COUNTED_AFTER = "counted_after_as_of"
FOLDED_AFTER = "history_folded_after_as_of"
MOVED_AFTER = "changed_after_as_of"


@dataclass(frozen=True, slots=True)
class AsOf:
    """A figure at the snapshot's time, or why it cannot be known."""

    micro: int | None
    unknown: str | None = None
    later_micro: int = 0  # movements after the time, left out (on-hand only)


def on_hand_at(doc: dict[str, Any] | None, at: datetime) -> AsOf:
    """On-hand of a stored position as of `at` (millisecond precision, inclusive)."""
    if doc is None:
        return AsOf(0)
    at = ms(at)  # stored times have millisecond precision already
    counted = doc.get("counted") or None
    if counted is not None and counted["at"] > at:
        return AsOf(None, COUNTED_AFTER)
    folded = doc.get("folded_through")
    if folded is not None and folded > at:
        return AsOf(None, FOLDED_AFTER)
    total = stored_micro(doc.get("on_hand_base"))
    later = 0
    for m in doc.get("movements") or ():
        delta = stored_micro(m.get("delta"))
        if m["at"] <= at:
            total += delta
        else:
            later += delta
    return AsOf(total, later_micro=later)


def quarantined_at(doc: dict[str, Any] | None, at: datetime) -> AsOf:
    """Quarantined units as of `at`: known only when nothing later touched the position."""
    if doc is None:
        return AsOf(0)
    as_of = doc.get("as_of")
    if as_of is not None and ms(as_of) > ms(at):
        return AsOf(None, MOVED_AFTER)
    return AsOf(stored_micro(doc.get("quarantined")))
