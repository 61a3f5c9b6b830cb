"""Which status an order moves to after each fact: the allowed transitions (pure).

- Progress (received ... delivered) never drops a rank (`ranks.RANK`); inside the allocation
  tier, where partially_allocated, backordered and allocated share one rank, the current
  quantities decide.
- A status a source claims only ever rises: a later report of a lower milestone is kept on the
  timeline and moves nothing.
- An open exception shows until a later milestone clears it (a shipment's exception, until a
  later scan of that shipment clears it).
- cancelled and returned are terminal: the first one reached stays, and an order is not
  cancelled once goods have shipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from order_status.domain.ranks import ALLOCATION_TIER, RANK


@dataclass
class Mark:
    """An open exception, or the terminal status (cancelled, returned)."""

    status: str
    at: datetime
    event_id: str
    reason: str | None


def advance(progress: str | None, claims: Iterable[str | None]) -> str:
    """Progress after a fact: the highest of `claims` (at least received), unless that is a
    lower rank than `progress`."""
    best = "received"
    for c in claims:
        if c is not None and RANK[c] > RANK[best]:
            best = c
    if progress is None or RANK[best] > RANK[progress]:
        return best
    return best if RANK[best] == RANK[progress] == ALLOCATION_TIER else progress


def raise_claim(claim: str | None, status: str) -> str:
    """A claimed status only rises."""
    return status if claim is None or RANK[status] > RANK[claim] else claim


def terminal_refused(terminal: Mark | None, status: str, progress: str | None) -> str | None:
    """Why the terminal `status` is not taken (a note for the timeline), or None when it is."""
    if terminal is not None:
        return f"order already {terminal.status}; status kept"
    if status == "cancelled" and RANK.get(progress or "", 0) >= RANK["partially_shipped"]:
        return "cancellation after goods were shipped; status kept"
    return None


def current(
    terminal: Mark | None, exceptions: Mapping[str, Mark], progress: str | None
) -> tuple[str, str | None]:
    """The status shown, and its reason: a terminal status, else the latest open exception,
    else the progress."""
    if terminal is not None:
        return terminal.status, terminal.reason
    if exceptions:
        latest = max(exceptions.values(), key=lambda x: (x.at, x.event_id))
        return "exception", latest.reason
    return progress or "received", None
