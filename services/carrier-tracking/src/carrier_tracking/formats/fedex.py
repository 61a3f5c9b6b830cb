"""FedEx: the Track API / Advanced Integrated Visibility shape, or the flat legacy shape.

Track API 1.0 and the AIV webhook nest scans under
`output.completeTrackResults[].trackResults[].scanEvents[]`, each with `date` (ISO 8601 with
its offset), `eventType`, `eventDescription`, `derivedStatusCode`, `exceptionCode`,
`exceptionDescription` and `scanLocation`. The tracking number is
`trackResults[].trackingNumberInfo.trackingNumber` (else the `completeTrackResults` one). A
track result that carries an `error` and no scans is reported as skipped.

The flat `{trackingNumber, scanEvents}` shape accepted before stays accepted.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from carrier_tracking.formats.common import (
    MAX_EVENTS,
    In,
    Parsed,
    Report,
    ScanError,
    Skipped,
    aware_utc,
    each_scan,
    envelope,
    iso_time,
    numbered,
    place,
    validate,
)


class FedexLocation(In):
    city: str | None = None
    stateOrProvinceCode: str | None = None
    countryCode: str | None = None


class FedexScanEvent(In):
    date: str | int | float
    eventType: str = Field(min_length=1)
    derivedStatusCode: str | None = None
    eventDescription: str | None = None
    exceptionCode: str | None = None
    exceptionDescription: str | None = None
    scanLocation: FedexLocation | None = None


def _scan(tn: str, raw: Any) -> Report:
    e = validate(FedexScanEvent, raw)
    loc = e.scanLocation
    text = ": ".join(x for x in (e.eventDescription, e.exceptionDescription) if x)
    return Report(
        tracking_number=tn,
        native_code=e.eventType,
        native_type=e.derivedStatusCode or None,
        description=text or None,
        location=place(loc.city, loc.stateOrProvinceCode, loc.countryCode) if loc else None,
        time=aware_utc(iso_time(e.date, "date"), "date"),
    )


class FedexFlatPush(In):
    """The flat shape: one tracking number and its scan events."""

    trackingNumber: str = Field(min_length=1)
    scanEvents: list[Any] = Field(min_length=1, max_length=MAX_EVENTS)


class TrackingNumberInfo(In):
    trackingNumber: str | None = None


class TrackResult(In):
    trackingNumberInfo: TrackingNumberInfo | None = None
    scanEvents: list[Any] = Field(default_factory=list, max_length=MAX_EVENTS)
    error: dict[str, Any] | None = None


class CompleteTrackResult(In):
    trackingNumber: str | None = None
    trackResults: list[TrackResult] = Field(default_factory=list, max_length=MAX_EVENTS)


class TrackOutput(In):
    completeTrackResults: list[CompleteTrackResult] = Field(min_length=1, max_length=MAX_EVENTS)


class FedexTrackPush(In):
    """Track API response / AIV webhook push: `output.completeTrackResults[]`."""

    output: TrackOutput


def _track(p: FedexTrackPush) -> Parsed:
    out = Parsed()
    for i, c in enumerate(p.output.completeTrackResults):
        for j, r in enumerate(c.trackResults):
            info = r.trackingNumberInfo
            tn = (info.trackingNumber if info else None) or c.trackingNumber or ""
            where = f"output.completeTrackResults[{i}].trackResults[{j}]"
            if not r.scanEvents:
                why = _error_text(r.error) if r.error else "no scanEvents"
                out.skipped.append(Skipped(where, why, tn or None))
                continue

            def read(raw: Any, tn: str = tn) -> Report:
                if not tn:
                    raise ScanError("track result has no trackingNumber")
                return _scan(tn, raw)

            out.extend(each_scan(numbered(f"{where}.scanEvents", r.scanEvents), read, tn or None))
    return out


def _error_text(error: dict[str, Any]) -> str:
    code, message = error.get("code"), error.get("message")
    return "FedEx reported an error: " + ": ".join(str(x) for x in (code, message) if x)


def read_fedex(raw: dict[str, Any]) -> Parsed:
    if "output" in raw:
        return _track(envelope(FedexTrackPush, raw, "fedex"))
    p = envelope(FedexFlatPush, raw, "fedex")
    return each_scan(
        numbered("scanEvents", p.scanEvents), lambda e: _scan(p.trackingNumber, e), p.trackingNumber
    )


MODELS = (FedexTrackPush, FedexFlatPush)
