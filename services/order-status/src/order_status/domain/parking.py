"""Tracking updates that arrive before anything says which order they belong to (pure).

A `shipment.tracking_updated` names its order, or else its shipment id and tracking number. An
update whose order is not known yet (its `shipment.shipped` has not arrived) is parked under
its tracking number, once per event id, and released onto the order when that shipment is
reported shipped.
"""

from __future__ import annotations

from collections.abc import Sequence

from order_status.domain.views import Fact


def order_for(order_id: str | None, by_shipment: str | None, by_tracking: str | None) -> str | None:
    """The update's order: its own order id, else the order its shipment id was shipped for,
    else the order of its tracking number; None when none is known yet (park it)."""
    for candidate in (order_id, by_shipment, by_tracking):
        if candidate is not None:
            return candidate
    return None


def park(parked: Sequence[Fact], update: Fact) -> tuple[Fact, ...]:
    """`update` joins the updates parked under its tracking number; a redelivery adds nothing."""
    if any(f.id == update.id for f in parked):
        return tuple(parked)
    return (*parked, update)
