"""What every carrier format shares: reports, skipped scans, and reading carrier times.

A push is read scan by scan: a scan that cannot be read (a missing field, a time that cannot
be placed in UTC) becomes a `Skipped` with where it was and why, and the rest of the push is
still read. The envelope (the fields around the scans) must be readable, or nothing is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    TypeAdapter,
    ValidationError,
)

from shared.envelope import short_errors
from shared.http import utc_time

MAX_EVENTS = 100

ScanTime = Annotated[AwareDatetime, AfterValidator(utc_time)]
"""A scan time with its offset, held in UTC."""

_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_REASON_CHARS = 300
_OFFSET = re.compile(r"^([+-])(\d{1,2})(?:[:.]?(\d{2}))?$")


class PushShapeError(ValueError):
    """The envelope around the scans is not the carrier's shape: nothing can be read."""


class ScanError(ValueError):
    """One scan cannot be read; the message says why."""


@dataclass(frozen=True)
class Report:
    """One scan as a carrier pushed it, before it becomes a `tracking.reported` event."""

    tracking_number: str
    native_code: str
    time: datetime
    native_type: str | None = None
    description: str | None = None
    location: str | None = None
    where: str = ""


@dataclass(frozen=True)
class Skipped:
    """A scan left out of the push: `where` in the body, and why."""

    where: str
    reason: str
    tracking_number: str | None = None


@dataclass
class Parsed:
    reports: list[Report] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def extend(self, other: Parsed) -> None:
        self.reports += other.reports
        self.skipped += other.skipped


class In(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


M = TypeVar("M", bound=BaseModel)


def place(*parts: str | None) -> str | None:
    return ", ".join(p for p in parts if p) or None


def parse_offset(raw: str) -> timezone:
    """`-04:00`, `-04.00` (UPS), `-0400`, `+9` and `Z` are UTC offsets; ScanError otherwise."""
    text = raw.strip()
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    m = _OFFSET.fullmatch(text)
    if not m or int(m.group(2)) > 23 or int(m.group(3) or 0) > 59:
        raise ScanError(f"UTC offset {raw[:20]!r} is not like -04:00")
    sign = -1 if m.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0)))


def in_utc(local: datetime, tz: timezone) -> datetime:
    """A naive local time at offset `tz`, in UTC; ScanError when UTC has no such date."""
    try:
        return utc_time(local.replace(tzinfo=tz))
    except (ValueError, OverflowError) as e:
        raise ScanError(str(e)) from e


def iso_time(raw: str | float, what: str) -> datetime:
    """An RFC 3339 / ISO 8601 time (or Unix seconds), read as pydantic reads a datetime;
    naive when it carries no offset (the caller decides what that means)."""
    try:
        return _DATETIME.validate_python(raw)
    except ValidationError as e:
        raise ScanError(f"{what}: {short_errors(e)}") from e


def aware_utc(value: datetime, what: str) -> datetime:
    """An aware time in UTC; ScanError (naming the missing timezone) for a naive one."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScanError(f"{what} {value.isoformat()} has no timezone offset")
    try:
        return utc_time(value)
    except (ValueError, OverflowError) as e:
        raise ScanError(str(e)) from e


def validate(model: type[M], raw: Any) -> M:
    """The model, or ScanError with pydantic's reasons in short."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise ScanError(short_errors(e)) from e


def each_scan(
    items: Iterable[tuple[str, Any]],
    read: Callable[[Any], Report],
    tracking_number: str | None = None,
) -> Parsed:
    """Read every (where, raw scan); a scan that fails is skipped with its reason."""
    out = Parsed()
    for where, raw in items:
        try:
            out.reports.append(_placed(read(raw), where))
        except ScanError as e:
            out.skipped.append(Skipped(where, str(e)[:_REASON_CHARS], tracking_number))
    return out


def envelope(model: type[M], raw: Any, carrier: str) -> M:
    """The fields around the scans; PushShapeError when they are not the carrier's shape."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise PushShapeError(f"not a {carrier} push: {short_errors(e)}") from e


def numbered(prefix: str, items: list[Any]) -> list[tuple[str, Any]]:
    return [(f"{prefix}[{i}]", x) for i, x in enumerate(items)]


def _placed(r: Report, where: str) -> Report:
    return Report(
        tracking_number=r.tracking_number,
        native_code=r.native_code,
        time=r.time,
        native_type=r.native_type,
        description=r.description,
        location=r.location,
        where=where,
    )
