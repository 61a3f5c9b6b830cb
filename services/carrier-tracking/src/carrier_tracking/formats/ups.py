"""UPS: a Track Alert webhook push (one activity), or a Track API response (many).

Track Alert v1/v2 (`UPSTrackAlert.yaml`, webhook `TrackingEvent`): `trackingNumber`,
`localActivityDate`/`localActivityTime` (YYYYMMDD, HHMMSS), `gmtActivityDate`/`gmtActivityTime`
(UTC), `gmtOffset` written `-04.00` (also read as `-04:00`), `activityLocation`,
`activityStatus` {type, code, description}. Track API v1 (`Tracking.yaml`):
`trackResponse.shipment[].package[].activity[]` with `date`, `time`, `gmtDate`, `gmtTime`,
`gmtOffset`, `location.address`, `status` {type, code, description, statusCode}.

The UTC fields are used when present; otherwise the local time with `gmtOffset`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, model_validator

from carrier_tracking.formats.common import (
    MAX_EVENTS,
    In,
    Parsed,
    Report,
    ScanError,
    each_scan,
    envelope,
    in_utc,
    numbered,
    parse_offset,
    place,
    validate,
)

_DATE = r"^\d{8}$"


class UpsStatus(In):
    type: str | None = None
    code: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _some_code(self) -> UpsStatus:
        if not (self.type or self.code):
            raise ValueError("activityStatus needs a type or a code")
        return self


class UpsLocation(In):
    city: str | None = None
    stateProvince: str | None = None
    postalCode: str | None = None
    country: str | None = None
    countryCode: str | None = None


def _stamp(date: str, time: str, what: str) -> datetime:
    """YYYYMMDD and HHMMSS (or HH:MM:SS, or 74700 for 07:47:00) as a naive time."""
    digits = time.replace(":", "").strip().zfill(6)
    try:
        return datetime.strptime(date.strip() + digits, "%Y%m%d%H%M%S")
    except ValueError as e:
        raise ScanError(f"{what} {date} {time} is not a date and time") from e


def _time(
    gmt_date: str | None,
    gmt_time: str | None,
    local_date: str | None,
    local_time: str | None,
    offset: str | None,
) -> datetime:
    if gmt_date and gmt_time:
        return in_utc(_stamp(gmt_date, gmt_time, "GMT activity time"), UTC)
    if local_date and local_time and offset:
        return in_utc(_stamp(local_date, local_time, "local activity time"), parse_offset(offset))
    raise ScanError(
        "needs gmtActivityDate+gmtActivityTime (gmtDate+gmtTime) "
        "or the local date and time with gmtOffset"
    )


def _report(tn: str, st: UpsStatus, loc: UpsLocation | None, at: datetime) -> Report:
    return Report(
        tracking_number=tn,
        native_code=st.code or st.type or "",
        native_type=st.type if st.code else None,
        description=st.description,
        location=place(loc.city, loc.stateProvince, loc.country or loc.countryCode)
        if loc
        else None,
        time=at,
    )


# Track Alert: the push is one activity


class TrackAlertPush(In):
    """UPS Track Alert (webhook TrackingEvent): one activity per push."""

    trackingNumber: str = Field(min_length=1)
    gmtActivityDate: str | None = Field(default=None, pattern=_DATE)
    gmtActivityTime: str | None = Field(default=None, pattern=r"^\d{6}$")
    localActivityDate: str | None = Field(default=None, pattern=_DATE)
    localActivityTime: str | None = Field(default=None, pattern=r"^\d{6}$")
    gmtOffset: str | None = None
    activityLocation: UpsLocation | None = None
    activityStatus: UpsStatus


class _Numbered(In):
    trackingNumber: str = Field(min_length=1)


def _alert(raw: Any) -> Report:
    p = validate(TrackAlertPush, raw)
    at = _time(
        p.gmtActivityDate,
        p.gmtActivityTime,
        p.localActivityDate,
        p.localActivityTime,
        p.gmtOffset,
    )
    return _report(p.trackingNumber, p.activityStatus, p.activityLocation, at)


# Track API: shipments, packages, activities


class UpsAddress(In):
    address: UpsLocation | None = None


class UpsActivity(In):
    date: str | None = Field(default=None, pattern=_DATE)
    time: str | None = None
    gmtDate: str | None = Field(default=None, pattern=_DATE)
    gmtTime: str | None = None
    gmtOffset: str | None = None
    location: UpsAddress | None = None
    status: UpsStatus


class UpsPackage(In):
    trackingNumber: str | None = None
    activity: list[Any] = Field(default_factory=list, max_length=MAX_EVENTS)


class UpsShipment(In):
    inquiryNumber: str | None = None
    package: list[UpsPackage] = Field(default_factory=list, max_length=MAX_EVENTS)


class UpsTrackResponse(In):
    shipment: list[UpsShipment] = Field(min_length=1, max_length=MAX_EVENTS)


class TrackApiResponse(In):
    """UPS Track API v1 response: `trackResponse.shipment[].package[].activity[]`."""

    trackResponse: UpsTrackResponse


def _track_api(p: TrackApiResponse) -> Parsed:
    out = Parsed()
    for i, s in enumerate(p.trackResponse.shipment):
        for j, pkg in enumerate(s.package):
            tn = pkg.trackingNumber or s.inquiryNumber or ""
            where = f"trackResponse.shipment[{i}].package[{j}].activity"

            def read(raw: Any, tn: str = tn) -> Report:
                if not tn:
                    raise ScanError("package has no trackingNumber")
                a = validate(UpsActivity, raw)
                at = _time(a.gmtDate, a.gmtTime, a.date, a.time, a.gmtOffset)
                return _report(tn, a.status, a.location.address if a.location else None, at)

            out.extend(each_scan(numbered(where, pkg.activity), read, tn or None))
    return out


def read_ups(raw: dict[str, Any]) -> Parsed:
    if "trackResponse" in raw:
        return _track_api(envelope(TrackApiResponse, raw, "ups"))
    tn = envelope(_Numbered, raw, "ups").trackingNumber
    return each_scan([("activity", raw)], _alert, tn)


MODELS = (TrackAlertPush, TrackApiResponse)
