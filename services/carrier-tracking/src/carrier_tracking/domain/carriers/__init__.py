"""Per-carrier mapping tables (data) and the one lookup every caller uses."""

from __future__ import annotations

from typing import NamedTuple

from carrier_tracking.domain.carriers import dhl, fedex, generic, ups, usps
from carrier_tracking.domain.carriers.table import (
    EXCEPTION_REASONS,
    MILESTONES,
    Entry,
    ExceptionReason,
    Milestone,
    normalise_code,
)

__all__ = [
    "EXCEPTION_REASONS",
    "KNOWN_CARRIERS",
    "MILESTONES",
    "TABLES",
    "Classification",
    "Entry",
    "ExceptionReason",
    "Milestone",
    "classify",
    "normalise_carrier",
    "table_for",
]

TABLES: dict[str, dict[str, Entry]] = {
    "ups": ups.CODES,
    "fedex": fedex.CODES,
    "dhl": dhl.CODES,
    "usps": usps.CODES,
    "generic": generic.CODES,
}
KNOWN_CARRIERS: tuple[str, ...] = ("ups", "fedex", "dhl", "usps")

ALIASES: dict[str, str] = {
    "united_parcel_service": "ups",
    "fdx": "fedex",
    "fedex_ground": "fedex",
    "fedex_express": "fedex",
    "dhl_express": "dhl",
    "dhl_ecommerce": "dhl",
    "dhl_parcel": "dhl",
    "us_postal_service": "usps",
    "united_states_postal_service": "usps",
}


class Classification(NamedTuple):
    """A scan's meaning; `unmapped` when neither its code nor its type is in the table."""

    milestone: Milestone | None
    reason: ExceptionReason | None
    unmapped: bool


def normalise_carrier(carrier: str) -> str:
    """`UPS`, ` ups ` and `united parcel service` are one carrier."""
    key = "_".join(carrier.strip().lower().replace("-", " ").split())
    return ALIASES.get(key, key)


def table_for(carrier: str) -> dict[str, Entry]:
    return TABLES.get(normalise_carrier(carrier), generic.CODES)


def classify(carrier: str, native_code: str, native_type: str | None = None) -> Classification:
    """Look the code up in the carrier's table, then its coarse type; never guess beyond that."""
    table = table_for(carrier)
    entry = table.get(normalise_code(native_code))
    if entry is None and native_type:
        entry = table.get(normalise_code(native_type))
    if entry is None:
        return Classification(None, None, True)
    return Classification(entry.milestone, entry.reason, False)
