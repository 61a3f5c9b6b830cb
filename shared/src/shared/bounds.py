"""The bounds every message is held to, in one place; docs/contract-extensions.md lists them.

Sizes keep the cost of one message bounded and every id inside an AMQP short string. Quantities
are finite and small enough that no sum of them overflows or loses a whole unit. Times convert
to UTC without leaving the calendar, and an event time must lie in a window around now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

# -- a message as a whole ------------------------------------------------------------------------

MAX_BODY_BYTES = 1024 * 1024
"""Largest message body; a purchase order of thousands of lines stays far below it."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of JSON objects and arrays, the envelope being level 1 (events use 4)."""

# -- strings ------------------------------------------------------------------------------------

MAX_ID_CHARS = 200
"""Longest id or code: envelope attributes, business ids (order, PO, RMA...), SKUs, sites."""
MAX_ID_BYTES = 255
"""An id also fits an AMQP short string (`correlation_id`, `message_id`, routing key) in UTF-8."""
MAX_TEXT_CHARS = 1024
"""Longest free text (reason, description, detail, user); longer text is cut to this length."""
MAX_EXTENSIONS = 32
"""Most attributes an envelope may carry beyond the ones distsync knows."""
MAX_EXTENSION_NAME_CHARS = 64
MAX_EXTENSION_VALUE_CHARS = 2048
"""Longest string value of an unknown extension (room for a W3C `tracestate`)."""

# -- numbers ------------------------------------------------------------------------------------

MAX_QTY = 1e9
"""Largest quantity on one line or movement from an outside system, in its unit of measure:
exact to a millionth in a float (1e15 millionths < 2**53)."""
MAX_FACTOR = 1e6
"""Most base units per unit of measure, so a line in base units stays within MAX_TOTAL."""
MAX_TOTAL = 1e15
"""Largest quantity distsync publishes for a line, a receipt or an absolute total (inbound,
returns pending), and accepts in the events its services exchange: whole units stay exact in
IEEE doubles, and so in every JSON reader (JavaScript's largest safe integer is about 9e15)."""
MAX_POSITION = 1e18
"""Largest figure of an availability position: the sum of several totals."""

# -- times --------------------------------------------------------------------------------------

TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
"""Earliest time a message may carry: AMQP timestamps count seconds since 1970 and are unsigned."""
TIME_MAX = datetime(9999, 12, 31, tzinfo=UTC)
"""Latest time a message may carry: the last day of the calendar (an ERP's "valid until
9999-12-31" is accepted), a day before its end so that any UTC offset can still be applied."""
DEFAULT_MAX_AGE = timedelta(days=3650)
"""How far before now an event time may lie by default: DLQ replays and archives restored
years later still apply; an older time is a broken clock or a placeholder such as 1970."""
DEFAULT_MAX_AHEAD = timedelta(hours=1)
"""How far after now an event time may lie by default: room for clock skew and publishers that
stamp a burst a millisecond apart, while a count dated in the future cannot freeze a position
(later movements would otherwise count as older than it) for more than this."""


def _out_of_range(what: str) -> PydanticCustomError:
    return PydanticCustomError(
        "out_of_range",
        "{what} must lie between {low} and {high}",
        {"what": what, "low": "1970-01-01T00:00:00Z", "high": "9999-12-31T00:00:00Z"},
    )


def to_utc(v: datetime) -> datetime:
    """`v` in UTC (a time without an offset is UTC); outside TIME_MIN .. TIME_MAX a validation
    error, never an OverflowError, even for offsets that push it past the calendar's ends."""
    if v.tzinfo is None:
        u = v.replace(tzinfo=UTC)
    else:
        try:
            u = v.astimezone(UTC)
        except OverflowError:
            raise _out_of_range("time") from None
    if u < TIME_MIN or u > TIME_MAX:
        raise _out_of_range("time")
    return u


def _date_in_range(v: date) -> date:
    if v < TIME_MIN.date() or v > TIME_MAX.date():
        raise _out_of_range("date")
    return v


def _date_text(v: str) -> str:
    """A calendar date or an RFC 3339 date-time, in range; the text itself is kept."""
    try:
        parsed: date | datetime = (
            date.fromisoformat(v) if len(v) == 10 else datetime.fromisoformat(v)
        )
    except ValueError:
        raise PydanticCustomError(
            "date_text", "must be a date (YYYY-MM-DD) or an RFC 3339 date-time"
        ) from None
    if isinstance(parsed, datetime):
        to_utc(parsed)
    else:
        _date_in_range(parsed)
    return v


def fits_short_string(v: str) -> bool:
    """At most MAX_ID_BYTES in UTF-8; with at most 4 bytes a character, only a long string
    needs encoding to tell."""
    return len(v) * 4 <= MAX_ID_BYTES or len(v.encode("utf-8")) <= MAX_ID_BYTES


def _fits_short_string(v: str) -> str:
    if not fits_short_string(v):
        raise PydanticCustomError(
            "id_too_long", "must be at most {n} bytes in UTF-8", {"n": MAX_ID_BYTES}
        )
    return v


def _cut_text(v: object) -> object:
    if isinstance(v, str) and len(v) > MAX_TEXT_CHARS:
        return v[:MAX_TEXT_CHARS]
    return v


IdChars = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
"""Id's length in characters only: for the envelope, whose parser checks bytes itself."""
Id = Annotated[IdChars, AfterValidator(_fits_short_string)]
"""An id or a code: 1 to MAX_ID_CHARS characters and at most MAX_ID_BYTES bytes in UTF-8.
Any character is allowed (SKUs contain `/`)."""
ShortStr = Annotated[
    str, StringConstraints(max_length=MAX_ID_CHARS), AfterValidator(_fits_short_string)
]
"""Like Id, but may be empty: for descriptive ids and codes that a service only passes on."""
Text = Annotated[str, BeforeValidator(_cut_text), StringConstraints(max_length=MAX_TEXT_CHARS)]
"""Free text: cut to MAX_TEXT_CHARS characters rather than refused, so a long comment never
strands a business event in the dead-letter queue."""

Qty = Annotated[float, Field(ge=0, le=MAX_QTY, allow_inf_nan=False)]
"""A quantity from an outside system: finite, 0 .. MAX_QTY."""
Delta = Annotated[float, Field(ge=-MAX_QTY, le=MAX_QTY, allow_inf_nan=False)]
"""A signed change from an outside system: finite, -MAX_QTY .. MAX_QTY."""
Factor = Annotated[float, Field(gt=0, le=MAX_FACTOR, allow_inf_nan=False)]
"""Base units per unit of measure: finite, above 0, at most MAX_FACTOR."""
Ratio = Annotated[float, Field(ge=0, le=MAX_QTY, allow_inf_nan=False)]
"""A non-negative finite figure such as a tolerance in percent."""
Total = Annotated[float, Field(ge=0, le=MAX_TOTAL, allow_inf_nan=False)]
"""A quantity distsync publishes: finite, 0 .. MAX_TOTAL."""
PositionQty = Annotated[float, Field(ge=-MAX_POSITION, le=MAX_POSITION, allow_inf_nan=False)]
"""A figure of an availability position: finite, -MAX_POSITION .. MAX_POSITION."""

UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]
"""An aware UTC time within TIME_MIN .. TIME_MAX; without an offset it is read as UTC."""
BoundedDate = Annotated[date, AfterValidator(_date_in_range)]
"""A calendar date within the dates of TIME_MIN .. TIME_MAX."""
DateText = Annotated[str, StringConstraints(max_length=64), AfterValidator(_date_text)]
"""A date or date-time kept as the publisher wrote it, checked like UtcDatetime."""


@dataclass(frozen=True, slots=True)
class EventTimeWindow:
    """How far before and after now an event time may lie; `ServiceSettings` configures it."""

    max_age: timedelta = DEFAULT_MAX_AGE
    max_ahead: timedelta = DEFAULT_MAX_AHEAD

    def problem(self, t: datetime, now: datetime) -> str | None:
        """Why the event time `t` (aware) is refused at `now`, or None when it is inside."""
        ahead = t - now  # the difference of two aware datetimes cannot overflow
        if ahead > self.max_ahead:
            return (
                f"event time {t.isoformat()} is {_span(ahead)} after now ({now.isoformat()}); "
                f"at most {_span(self.max_ahead)} ahead is accepted"
            )
        if -ahead > self.max_age:
            return (
                f"event time {t.isoformat()} is {_span(-ahead)} before now ({now.isoformat()}); "
                f"at most {_span(self.max_age)} back is accepted"
            )
        return None


def _span(d: timedelta) -> str:
    s = d.total_seconds()
    if s >= 2 * 86400:
        return f"{s / 86400:.0f} days"
    if s >= 2 * 3600:
        return f"{s / 3600:.0f} hours"
    if s >= 2 * 60:
        return f"{s / 60:.0f} minutes"
    return f"{s:.0f} s"
