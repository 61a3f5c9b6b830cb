"""USPS: a Tracking 3.0 response or push: `trackingNumber` and `trackingEvents[]`.

Each event has `eventType` (the text), `eventCode`, `eventTimestamp` (local time, usually
without offset), `GMTTimestamp` (UTC), `GMTOffset` (the local offset, e.g. `-05:00`),
`eventCity`, `eventState`, `eventZIP` (or `eventZIPCode`) and `eventCountry`. The time is
`GMTTimestamp` when present, else `eventTimestamp` with its own offset, else `eventTimestamp`
placed with `GMTOffset`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from carrier_tracking.formats.common import (
    MAX_EVENTS,
    In,
    Parsed,
    Report,
    ScanError,
    aware_utc,
    each_scan,
    envelope,
    in_utc,
    iso_time,
    numbered,
    parse_offset,
    place,
    validate,
)


class UspsEvent(In):
    eventTimestamp: str | int | float | None = None
    GMTTimestamp: str | int | float | None = None
    GMTOffset: str | None = None
    eventCode: str = Field(min_length=1)
    eventType: str | None = None
    eventCity: str | None = None
    eventState: str | None = None
    eventZIP: str | None = None
    eventZIPCode: str | None = None
    eventCountry: str | None = None


class UspsPush(In):
    trackingNumber: str = Field(min_length=1)
    trackingEvents: list[Any] = Field(min_length=1, max_length=MAX_EVENTS)


def _time(e: UspsEvent) -> datetime:
    if e.GMTTimestamp not in (None, ""):
        t = iso_time(e.GMTTimestamp, "GMTTimestamp")
        return aware_utc(t if t.tzinfo else t.replace(tzinfo=UTC), "GMTTimestamp")
    if e.eventTimestamp in (None, ""):
        raise ScanError("eventTimestamp: Field required (or GMTTimestamp)")
    local = iso_time(e.eventTimestamp, "eventTimestamp")
    if local.tzinfo is not None:
        return aware_utc(local, "eventTimestamp")
    if not e.GMTOffset:
        raise ScanError(
            f"eventTimestamp {e.eventTimestamp} has no timezone offset, "
            "and neither GMTTimestamp nor GMTOffset is given"
        )
    return in_utc(local, parse_offset(e.GMTOffset))


def _event(tn: str, raw: Any) -> Report:
    e = validate(UspsEvent, raw)
    return Report(
        tracking_number=tn,
        native_code=e.eventCode,
        description=e.eventType,
        location=place(e.eventCity, e.eventState, e.eventZIP or e.eventZIPCode, e.eventCountry),
        time=_time(e),
    )


def read_usps(raw: dict[str, Any]) -> Parsed:
    p = envelope(UspsPush, raw, "usps")
    return each_scan(
        numbered("trackingEvents", p.trackingEvents),
        lambda e: _event(p.trackingNumber, e),
        p.trackingNumber,
    )


MODELS = (UspsPush,)
