"""RMA state and what follows from it, pure: models, derived quantities, status rules.

Receipts and inspections name an SKU and a location, not an RMA line, so quantities are kept
per (sku, location) item; the authorized quantity of an SKU (all its lines summed) sits at the
RMA's location and is matched against that SKU's receipts wherever they were received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from returns.messages import Disposition, Status
from shared.schema import Frozen

EPS = 1e-9
FlagKind = Literal["over_receipt", "unexpected_sku", "received_after_expiry"]


class RmaLine(Frozen):
    line_id: str
    sku: str
    qty: float
    reason: str


class Item(Frozen):
    """One SKU at one location: what was authorized, received and dispositioned."""

    sku: str
    location: str
    authorized: float = 0.0
    received: float = 0.0
    restock: float = 0.0
    refurbish: float = 0.0
    scrap: float = 0.0
    return_to_vendor: float = 0.0
    first_received_at: datetime | None = None

    @property
    def inspected(self) -> float:
        return self.restock + self.refurbish + self.scrap + self.return_to_vendor

    @property
    def awaiting_inspection(self) -> float:
        return self.received - self.inspected


class Flag(Frozen):
    """Units that arrived without a matching authorization; they sit in quarantine."""

    kind: FlagKind
    sku: str
    location: str | None
    qty: float
    at: datetime


class HistoryEntry(Frozen):
    at: datetime
    kind: str
    event_id: str | None = None
    status: Status | None = None
    sku: str | None = None
    location: str | None = None
    qty: float | None = None
    disposition: Disposition | None = None
    latency_s: float | None = None
    detail: str | None = None


class Rma(Frozen):
    """An RMA; `authorized_at is None` means receipts arrived before the authorization."""

    rma_id: str
    order_id: str | None = None
    location: str | None = None
    authorized_at: datetime | None = None
    authorized_by: str | None = None
    expires_at: datetime | None = None
    lapsed: bool = False
    status: Status | None = None
    status_time: datetime | None = None
    lines: tuple[RmaLine, ...] = ()
    items: tuple[Item, ...] = ()
    flags: tuple[Flag, ...] = ()
    history: tuple[HistoryEntry, ...] = ()

    @property
    def authorized(self) -> bool:
        return self.authorized_at is not None


@dataclass(frozen=True)
class Emit:
    """An event to publish on returns.events, with its event time."""

    type: str
    data: BaseModel
    time: datetime


# -- derived quantities -----------------------------------------------------------------------


def sku_totals(rma: Rma) -> dict[str, tuple[float, float]]:
    """sku -> (authorized, received) over every location."""
    out: dict[str, tuple[float, float]] = {}
    for it in rma.items:
        a, r = out.get(it.sku, (0.0, 0.0))
        out[it.sku] = (a + it.authorized, r + it.received)
    return out


def excess_by_sku(rma: Rma) -> dict[str, float]:
    """Units received beyond the authorization; none before the authorization is known."""
    if not rma.authorized:
        return {}
    return {sku: max(0.0, r - a) for sku, (a, r) in sku_totals(rma).items()}


def expecting(rma: Rma) -> bool:
    """More units are still expected: authorized, not lapsed, and some SKU is short."""
    return (
        rma.authorized and not rma.lapsed and any(a - r > EPS for a, r in sku_totals(rma).values())
    )


def pending_contributions(rma: Rma | None) -> dict[tuple[str, str], float]:
    """(sku, location) -> authorized-not-yet-received units this RMA adds to expected supply."""
    if rma is None or not expecting(rma) or rma.location is None:
        return {}
    out: dict[tuple[str, str], float] = {}
    for sku, (a, r) in sku_totals(rma).items():
        if a - r > EPS:
            out[(sku, rma.location)] = a - r
    return out


def derive_status(rma: Rma) -> Status | None:
    """The status follows from the quantities; see the service README for the table."""
    if not rma.authorized:
        return None
    received = sum(it.received for it in rma.items)
    if received <= EPS:
        if rma.lapsed:
            return "expired"
        if sum(it.authorized for it in rma.items) <= EPS:
            return "rejected"
        return "authorized"
    all_inspected = all(it.awaiting_inspection <= EPS for it in rma.items)
    more_expected = expecting(rma)
    if all_inspected:
        return "inspected" if more_expected else "completed"
    short = any(a - r > EPS for a, r in sku_totals(rma).values())
    return "partially_received" if short else "received"


def is_due(rma: Rma, now: datetime) -> bool:
    """The authorization has lapsed but the sweep has not closed it yet."""
    return expecting(rma) and rma.expires_at is not None and rma.expires_at <= now
