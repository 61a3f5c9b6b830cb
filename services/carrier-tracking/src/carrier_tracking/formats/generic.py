"""Any other carrier or TMS adapter: `tracking_number` and `events[]` {code, time, ...}.

Codes come from the generic table; every time carries its UTC offset.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from carrier_tracking.formats.common import (
    MAX_EVENTS,
    In,
    Parsed,
    Report,
    ScanTime,
    each_scan,
    envelope,
    numbered,
    validate,
)


class GenericEvent(In):
    code: str = Field(min_length=1)
    time: ScanTime
    description: str | None = None
    location: str | None = None


class GenericPush(In):
    tracking_number: str = Field(min_length=1)
    events: list[Any] = Field(min_length=1, max_length=MAX_EVENTS)


def _event(tn: str, raw: Any) -> Report:
    e = validate(GenericEvent, raw)
    return Report(
        tracking_number=tn,
        native_code=e.code,
        description=e.description,
        location=e.location,
        time=e.time,
    )


def read_generic(raw: dict[str, Any]) -> Parsed:
    p = envelope(GenericPush, raw, "generic")
    return each_scan(
        numbered("events", p.events), lambda e: _event(p.tracking_number, e), p.tracking_number
    )


MODELS = (GenericPush,)
