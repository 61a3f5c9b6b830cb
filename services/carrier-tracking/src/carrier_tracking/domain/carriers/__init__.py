"""Per-carrier mapping tables (data) and the one lookup every caller uses."""

from __future__ import annotations

from typing import NamedTuple

from carrier_tracking.domain.carriers import dhl, fedex, generic, ups, usps
from carrier_tracking.domain.carriers.table import (
    ANY_CODE,
    EXCEPTION_REASONS,
    MILESTONES,
    Entry,
    ExceptionReason,
    Milestone,
    TypedCodes,
    normalise_code,
)

__all__ = [
    "EXCEPTION_REASONS",
    "KNOWN_CARRIERS",
    "MILESTONES",
    "TABLES",
    "TYPED_TABLES",
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
TYPED_TABLES: dict[str, TypedCodes] = {"ups": ups.TYPED}
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
    """(type, code), then (type, any code), then the code, then the coarse type; no guessing."""
    name = normalise_carrier(carrier)
    table = TABLES.get(name, generic.CODES)
    code = normalise_code(native_code)
    kind = normalise_code(native_type) if native_type else None
    typed = TYPED_TABLES.get(name, {})
    entry = None
    if kind:
        entry = typed.get((kind, code)) or typed.get((kind, ANY_CODE))
    if entry is None:
        entry = table.get(code)
    if entry is None and kind:
        entry = table.get(kind)
    if entry is None:
        return Classification(None, None, True)
    return Classification(entry.milestone, entry.reason, False)
