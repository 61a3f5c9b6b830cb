"""DHL: Shipment Tracking - Unified shipments, or MyDHL API (Express) shipments.

Unified (1.4.x): `shipments[]` with `id` (a string or a number) and `events[]` holding
`timestamp`, `statusCode` (pre-transit, transit, delivered, failure, unknown), `status`,
`description` and `location.address` {addressLocality, countryCode}. Some DHL services send
the timestamp as local time without an offset: it is then placed with the time zone of the
event's country, when that country has a single one (see `zones.py`), else skipped.

MyDHL API (Express, 2.x): `shipments[]` with `shipmentTrackingNumber` and `events[]` holding
`date` (YYYY-MM-DD), `time` (HH:MM:SS), `GMTOffset`, `typeCode`, `description` and
`serviceArea[]` {code, description}. The local date and time are placed with `GMTOffset`.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from pydantic import Field, model_validator

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
    validate,
)
from carrier_tracking.formats.zones import local_to_utc


class DhlAddress(In):
    addressLocality: str | None = None
    countryCode: str | None = None


class DhlLocation(In):
    address: DhlAddress | None = None


class DhlEvent(In):
    timestamp: str | int | float
    statusCode: str | None = None
    typeCode: str | None = None
    status: str | None = None
    description: str | None = None
    location: DhlLocation | None = None

    @model_validator(mode="after")
    def _some_code(self) -> DhlEvent:
        if not (self.typeCode or self.statusCode):
            raise ValueError("event needs a typeCode or a statusCode")
        return self


class ServiceArea(In):
    code: str | None = None
    description: str | None = None


class ExpressEvent(In):
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    time: str = Field(pattern=r"^\d{2}:\d{2}(:\d{2})?$")
    GMTOffset: str | None = None
    typeCode: str = Field(min_length=1)
    description: str | None = None
    serviceArea: list[ServiceArea] = Field(default_factory=list)


class DhlShipment(In):
    """A Unified shipment (`id`) or an Express one (`shipmentTrackingNumber`)."""

    id: str | int | None = None
    shipmentTrackingNumber: str | int | None = None
    events: list[Any] = Field(min_length=1, max_length=MAX_EVENTS)

    @model_validator(mode="after")
    def _numbered(self) -> DhlShipment:
        if self.number() == "":
            raise ValueError("shipment needs an id or a shipmentTrackingNumber")
        return self

    def number(self) -> str:
        for v in (self.shipmentTrackingNumber, self.id):
            if v is not None and str(v).strip():
                return str(v).strip()
        return ""


class DhlPush(In):
    """`shipments[]`, as the Unified API and the MyDHL API both answer."""

    shipments: list[DhlShipment] = Field(min_length=1, max_length=MAX_EVENTS)


def _unified(tn: str, raw: Any) -> Report:
    e = validate(DhlEvent, raw)
    addr = e.location.address if e.location else None
    at = iso_time(e.timestamp, "timestamp")
    if at.tzinfo is None:
        country = addr.countryCode if addr else None
        at = local_to_utc(at, country, "timestamp")
    else:
        at = aware_utc(at, "timestamp")
    return Report(
        tracking_number=tn,
        native_code=e.typeCode or e.statusCode or "",
        native_type=e.statusCode if e.typeCode else None,
        description=e.description or e.status,
        location=addr.addressLocality if addr else None,
        time=at,
    )


def _express(tn: str, raw: Any) -> Report:
    e = validate(ExpressEvent, raw)
    if not e.GMTOffset:
        raise ScanError("event has a local date and time but no GMTOffset")
    try:
        local = datetime.fromisoformat(f"{e.date}T{e.time}")
    except ValueError as err:
        raise ScanError(f"date {e.date} and time {e.time} are not a date and time") from err
    area = e.serviceArea[0] if e.serviceArea else None
    return Report(
        tracking_number=tn,
        native_code=e.typeCode,
        description=e.description,
        location=(area.description or area.code) if area else None,
        time=in_utc(local, parse_offset(e.GMTOffset)),
    )


def read_dhl(raw: dict[str, Any]) -> Parsed:
    p = envelope(DhlPush, raw, "dhl")
    out = Parsed()
    for i, s in enumerate(p.shipments):
        read = _express if s.shipmentTrackingNumber is not None else _unified
        scans = numbered(f"shipments[{i}].events", s.events)
        out.extend(each_scan(scans, partial(read, s.number()), s.number()))
    return out


MODELS = (DhlPush,)
