"""Who is calling: the systems an authenticated caller may publish as (`shared.auth`)."""

from __future__ import annotations

from fastapi import Request

from ingress.domain.systems import systems_of_scopes
from shared.auth import Identity


def allowed_systems(request: Request) -> frozenset[str] | None:
    """The systems the caller may publish as, from its `ingress:source:<system>` scopes; None
    in open mode, where the event's `source` decides alone."""
    who: Identity | None = getattr(request.state, "identity", None)
    if who is None or who.method == "open":
        return None
    return systems_of_scopes(who.scopes)
