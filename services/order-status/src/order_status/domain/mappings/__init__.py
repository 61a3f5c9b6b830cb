"""Native status mapping: one data table per source system, overridable by a JSON file.

A table maps a normalised native code to an enterprise status, or to null for a code that is
known but moves nothing (it is recorded on the timeline and not counted as unmapped). The
override file has the same shape, `{"<source>": {"<native code>": "<status>" | null}}`, and is
merged over the defaults (`order_status.settings.load_tables` reads it); it may add codes,
change them, or add whole sources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from order_status.domain.mappings import carrier, commerce, erp, returns, tms, wms
from order_status.domain.ranks import STATUSES

Table = Mapping[str, str | None]

DEFAULT_TABLES: dict[str, Table] = {
    "erp": erp.TABLE,
    "wms": wms.TABLE,
    "tms": tms.TABLE,
    "commerce": commerce.TABLE,
    "edi": commerce.TABLE,
    "portal": commerce.TABLE,
    "carrier": carrier.TABLE,
    "returns": returns.TABLE,
}


_SEPARATORS = re.compile(r"[^a-z0-9]+")


def normalize(code: str) -> str:
    """`Credit Hold`, `credit-hold` and `CREDIT_HOLD` are the same native status."""
    return _SEPARATORS.sub("_", code.strip().lower()).strip("_")


@dataclass(frozen=True)
class Lookup:
    known: bool
    status: str | None


@dataclass(frozen=True)
class Tables:
    """The merged tables, keyed by source system then by normalised native code."""

    by_source: Mapping[str, Table] = field(default_factory=dict)

    def lookup(self, source: str, native: str) -> Lookup:
        table = self.by_source.get(source, {})
        code = normalize(native)
        if code not in table:
            return Lookup(known=False, status=None)
        return Lookup(known=True, status=table[code])


def merge(overrides: Mapping[str, Mapping[str, str | None]]) -> Tables:
    """Defaults with `overrides` laid over them; an unknown enterprise status is an error."""
    merged: dict[str, dict[str, str | None]] = {
        src: {normalize(k): v for k, v in table.items()} for src, table in DEFAULT_TABLES.items()
    }
    for src, table in overrides.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"mapping for source {src!r} must be an object")
        target = merged.setdefault(normalize(src), {})
        for native, status in table.items():
            if status is not None and status not in STATUSES:
                raise ValueError(
                    f"mapping {src}.{native} -> {status!r} is not an enterprise status; "
                    f"expected one of {sorted(STATUSES)} or null"
                )
            target[normalize(native)] = status
    return Tables(by_source=merged)


DEFAULTS = merge({})
