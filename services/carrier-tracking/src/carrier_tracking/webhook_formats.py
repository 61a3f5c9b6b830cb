"""Each carrier's push payload (simplified from its tracking webhook) turned into scan reports.

Every format may carry several scans; each becomes one `tracking.reported` event. Timestamps
must carry a UTC offset: a local time without one is refused, never assumed, and so is one
that is no date once converted to UTC (`9999-12-31T23:00:00-05:00`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from shared.http import utc_time

MAX_EVENTS = 100

ScanTime = Annotated[AwareDatetime, AfterValidator(utc_time)]
"""A scan time with its offset, held in UTC."""


@dataclass(frozen=True)
class Report:
    """One scan as a carrier pushed it, before it becomes a `tracking.reported` event."""

    tracking_number: str
    native_code: str
    time: datetime
    native_type: str | None = None
    description: str | None = None
    location: str | None = None


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


def _place(*parts: str | None) -> str | None:
    return ", ".join(p for p in parts if p) or None


# UPS (one activity per push, like UPS Track Alert)


class UpsStatus(_In):
    type: str | None = None
    code: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _some_code(self) -> UpsStatus:
        if not (self.type or self.code):
            raise ValueError("activityStatus needs a type or a code")
        return self


class UpsLocation(_In):
    city: str | None = None
    stateProvince: str | None = None
    postalCode: str | None = None
    country: str | None = None


class UpsPush(_In):
    trackingNumber: str = Field(min_length=1)
    gmtActivityDate: str | None = Field(default=None, pattern=r"^\d{8}$")
    gmtActivityTime: str | None = Field(default=None, pattern=r"^\d{6}$")
    localActivityDate: str | None = Field(default=None, pattern=r"^\d{8}$")
    localActivityTime: str | None = Field(default=None, pattern=r"^\d{6}$")
    gmtOffset: str | None = Field(default=None, pattern=r"^[+-]\d{2}:\d{2}$")
    activityLocation: UpsLocation | None = None
    activityStatus: UpsStatus

    def time(self) -> datetime:
        """The activity time in UTC; ValueError when the fields hold no such time."""
        if self.gmtActivityDate and self.gmtActivityTime:
            t = datetime.strptime(self.gmtActivityDate + self.gmtActivityTime, "%Y%m%d%H%M%S")
            return t.replace(tzinfo=UTC)
        if self.localActivityDate and self.localActivityTime and self.gmtOffset:
            t = datetime.strptime(self.localActivityDate + self.localActivityTime, "%Y%m%d%H%M%S")
            sign = -1 if self.gmtOffset[0] == "-" else 1
            hours, minutes = int(self.gmtOffset[1:3]), int(self.gmtOffset[4:6])
            offset = timezone(sign * timedelta(hours=hours, minutes=minutes))
            return utc_time(t.replace(tzinfo=offset))
        raise ValueError("needs gmtActivityDate+gmtActivityTime or local date, time and gmtOffset")

    @model_validator(mode="after")
    def _has_time(self) -> UpsPush:
        self.time()
        return self


def _ups(p: UpsPush) -> list[Report]:
    st, loc = p.activityStatus, p.activityLocation
    code = st.code or st.type or ""
    return [
        Report(
            tracking_number=p.trackingNumber,
            native_code=code,
            native_type=st.type if st.code else None,
            description=st.description,
            location=_place(loc.city, loc.stateProvince, loc.country) if loc else None,
            time=p.time(),
        )
    ]


# FedEx (scan events, like the FedEx Track API)


class FedexLocation(_In):
    city: str | None = None
    stateOrProvinceCode: str | None = None
    countryCode: str | None = None


class FedexScanEvent(_In):
    date: ScanTime
    eventType: str = Field(min_length=1)
    derivedStatusCode: str | None = None
    eventDescription: str | None = None
    exceptionCode: str | None = None
    exceptionDescription: str | None = None
    scanLocation: FedexLocation | None = None


class FedexPush(_In):
    trackingNumber: str = Field(min_length=1)
    scanEvents: list[FedexScanEvent] = Field(min_length=1, max_length=MAX_EVENTS)


def _fedex(p: FedexPush) -> list[Report]:
    out = []
    for e in p.scanEvents:
        loc = e.scanLocation
        text = ": ".join(x for x in (e.eventDescription, e.exceptionDescription) if x)
        out.append(
            Report(
                tracking_number=p.trackingNumber,
                native_code=e.eventType,
                native_type=e.derivedStatusCode,
                description=text or None,
                location=_place(loc.city, loc.stateOrProvinceCode, loc.countryCode)
                if loc
                else None,
                time=e.date,
            )
        )
    return out


# DHL (shipments with events, like DHL's unified tracking push)


class DhlAddress(_In):
    addressLocality: str | None = None


class DhlLocation(_In):
    address: DhlAddress | None = None


class DhlEvent(_In):
    timestamp: ScanTime
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


class DhlShipment(_In):
    id: str = Field(min_length=1)
    events: list[DhlEvent] = Field(min_length=1, max_length=MAX_EVENTS)


class DhlPush(_In):
    shipments: list[DhlShipment] = Field(min_length=1, max_length=MAX_EVENTS)


def _dhl(p: DhlPush) -> list[Report]:
    out = []
    for s in p.shipments:
        for e in s.events:
            addr = e.location.address if e.location else None
            out.append(
                Report(
                    tracking_number=s.id,
                    native_code=e.typeCode or e.statusCode or "",
                    native_type=e.statusCode if e.typeCode else None,
                    description=e.description or e.status,
                    location=addr.addressLocality if addr else None,
                    time=e.timestamp,
                )
            )
    return out


# USPS (tracking events, like USPS Tracking 3.0)


class UspsEvent(_In):
    eventTimestamp: ScanTime
    eventCode: str = Field(min_length=1)
    eventType: str | None = None
    eventCity: str | None = None
    eventState: str | None = None
    eventZIP: str | None = None
    eventCountry: str | None = None


class UspsPush(_In):
    trackingNumber: str = Field(min_length=1)
    trackingEvents: list[UspsEvent] = Field(min_length=1, max_length=MAX_EVENTS)


def _usps(p: UspsPush) -> list[Report]:
    return [
        Report(
            tracking_number=p.trackingNumber,
            native_code=e.eventCode,
            description=e.eventType,
            location=_place(e.eventCity, e.eventState, e.eventZIP, e.eventCountry),
            time=e.eventTimestamp,
        )
        for e in p.trackingEvents
    ]


# Generic (any other carrier or TMS adapter; codes from the generic table)


class GenericEvent(_In):
    code: str = Field(min_length=1)
    time: ScanTime
    description: str | None = None
    location: str | None = None


class GenericPush(_In):
    tracking_number: str = Field(min_length=1)
    events: list[GenericEvent] = Field(min_length=1, max_length=MAX_EVENTS)


def _generic(p: GenericPush) -> list[Report]:
    return [
        Report(
            tracking_number=p.tracking_number,
            native_code=e.code,
            description=e.description,
            location=e.location,
            time=e.time,
        )
        for e in p.events
    ]


@dataclass(frozen=True)
class Format:
    model: type[BaseModel]
    reports: Callable[[BaseModel], list[Report]]


def _format(model: type[BaseModel], fn: Callable[..., list[Report]]) -> Format:
    return Format(model, fn)


FORMATS: dict[str, Format] = {
    "ups": _format(UpsPush, _ups),
    "fedex": _format(FedexPush, _fedex),
    "dhl": _format(DhlPush, _dhl),
    "usps": _format(UspsPush, _usps),
    "generic": _format(GenericPush, _generic),
}


def format_for(carrier: str) -> Format:
    """Carriers without a format of their own push the generic shape."""
    return FORMATS.get(carrier, FORMATS["generic"])
