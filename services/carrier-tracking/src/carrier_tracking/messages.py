"""Events carrier-tracking consumes (`shipment.shipped`, `tracking.reported`) and publishes."""

from __future__ import annotations

from pydantic import Field, field_validator

from carrier_tracking.domain.carriers import ExceptionReason, Milestone, normalise_carrier
from shared.bounds import Id, Qty, ShortStr, Text, UtcDatetime
from shared.schema import Inbound, Outbound

SHIPMENT_SHIPPED = "shipment.shipped"
TRACKING_REPORTED = "tracking.reported"
TRACKING_UPDATED = "shipment.tracking_updated"

MAX_TRACKING_NUMBER = 64
MAX_TEXT = 300  # carrier free text is cut to this, well inside shared.bounds.MAX_TEXT_CHARS


def normalise_tracking_number(value: str) -> str:
    """Carriers print tracking numbers with spaces and in either case; store one spelling."""
    return "".join(value.split()).upper()


class ShippedLine(Inbound):
    line_id: ShortStr
    sku: ShortStr
    qty: Qty


class ShipmentShipped(Inbound):
    """`shipment.shipped` v1: registers a tracking number for an order's shipment."""

    shipment_id: Id
    order_id: Id
    location: ShortStr | None = None
    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=MAX_TRACKING_NUMBER)
    lines: list[ShippedLine] = []

    @field_validator("carrier")
    @classmethod
    def _carrier(cls, v: str) -> str:
        return normalise_carrier(v)

    @field_validator("tracking_number")
    @classmethod
    def _tracking(cls, v: str) -> str:
        v = normalise_tracking_number(v)
        if not v:
            raise ValueError("tracking_number is blank")
        return v


class TrackingReported(Inbound):
    """`tracking.reported` v1: one native carrier scan; the envelope `time` is the scan time.

    `native_type` is an optional addition to the contract: the carrier's coarse status class
    (UPS activity type, FedEx derivedStatusCode, DHL statusCode), used only when `native_code`
    is not in the carrier's table.
    """

    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field(min_length=1, max_length=MAX_TRACKING_NUMBER)
    native_code: str = Field(min_length=1, max_length=64)
    native_type: str | None = Field(default=None, max_length=64)
    description: str | None = None
    location: str | None = None

    @field_validator("carrier")
    @classmethod
    def _carrier(cls, v: str) -> str:
        return normalise_carrier(v)

    @field_validator("tracking_number")
    @classmethod
    def _tracking(cls, v: str) -> str:
        v = normalise_tracking_number(v)
        if not v:
            raise ValueError("tracking_number is blank")
        return v

    @field_validator("description", "location")
    @classmethod
    def _clip(cls, v: str | None) -> str | None:
        """Carrier free text is kept, trimmed to a sane size, never a reason to reject a scan."""
        if v is None:
            return None
        v = " ".join(v.split())
        return v[:MAX_TEXT] or None

    @field_validator("native_code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("native_code is blank")
        return v


class TrackingUpdated(Outbound):
    """`shipment.tracking_updated` v1. `at` and `previous_milestone` are additions to the
    contract: when the milestone was reached (the scan's time) and what it replaced."""

    shipment_id: Id | None = None
    order_id: Id | None = None
    carrier: Id
    tracking_number: Id
    milestone: Milestone
    native_code: ShortStr
    description: Text | None = None
    exception_reason: ExceptionReason | None = None
    at: UtcDatetime
    previous_milestone: Milestone | None = None
