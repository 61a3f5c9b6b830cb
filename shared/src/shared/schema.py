"""Base models of the services' event payloads and domain values, each configured once.

Pure (pydantic and shared.bounds only), so a service's `domain` package may build on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer

from shared.bounds import UtcDatetime, to_utc


class Frozen(BaseModel):
    """An immutable domain value: functions return a changed copy, never change one."""

    model_config = ConfigDict(frozen=True)


class Inbound(BaseModel):
    """The `data` of a consumed event. Publishers may add fields (contract §0), so fields the
    model does not declare are ignored; the model is immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Outbound(BaseModel):
    """The `data` of a published event. A field the model does not declare is a mistake in the
    service, so it is refused; the model is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def rfc3339_millis(t: datetime) -> str:
    """`t` in UTC as RFC 3339 with exactly three fractional digits and a `Z`, as the envelope
    writes `time` (a time without an offset is UTC)."""
    return to_utc(t).isoformat(timespec="milliseconds").replace("+00:00", "Z")


MillisTime = Annotated[UtcDatetime, PlainSerializer(rfc3339_millis, return_type=str)]
"""A UtcDatetime that a published event writes like the envelope's `time`: `...T10:15:00.123Z`."""
