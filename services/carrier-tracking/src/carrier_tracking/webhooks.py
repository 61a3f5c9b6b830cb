"""Carrier pushes: parse the carrier's shape scan by scan, build tracking.reported events.

Authentication is in `webhook_auth`. A scan that cannot be read is skipped and reported; the
push is refused (WebhookPayloadError, answered 422) only when no scan in it can be read.

The event id is derived from carrier, tracking number, code and scan time, so a carrier that
re-sends a push produces the same ids and the consumer's inbox drops the repeats.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from carrier_tracking.domain.carriers import normalise_carrier
from carrier_tracking.domain.carriers.table import normalise_code
from carrier_tracking.formats import (
    FORMATS,
    MAX_EVENTS,
    Parsed,
    PushShapeError,
    Report,
    Skipped,
    format_for,
)
from carrier_tracking.messages import TRACKING_REPORTED, TrackingReported
from carrier_tracking.webhook_auth import SIGNATURE_HEADER, check_signature, sign
from shared.bounds import EventTimeWindow
from shared.envelope import (
    DEFAULT_WINDOW,
    CloudEvent,
    build,
    format_time,
    parse,
    short_errors,
)

__all__ = [
    "EXCHANGE",
    "SIGNATURE_HEADER",
    "WEBHOOK_CARRIERS",
    "Accepted",
    "Push",
    "WebhookPayloadError",
    "carrier_name",
    "check_signature",
    "event_id",
    "events_from_push",
    "parse_push",
    "push_schema",
    "read_push",
    "sign",
    "to_events",
]

EXCHANGE = "carrier.events"
WEBHOOK_CARRIERS: tuple[str, ...] = tuple(FORMATS)
_CARRIER_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")
_EVENT_ID_NAMESPACE = uuid.UUID("5b0e2a1c-7d3f-4c1e-9a57-2f8d0c6b4e91")
_REASONS_SHOWN = 5


class WebhookPayloadError(ValueError):
    """The push is authenticated but holds no scan we can read: answered with 422, a
    permanent refusal the carrier must not send again unchanged."""


@dataclass(frozen=True)
class Accepted:
    """A scan that became a `tracking.reported` event."""

    where: str
    report: Report
    event_id: str


@dataclass(frozen=True)
class Push:
    """What a push became: the events to publish, the scans behind them, the skipped ones."""

    events: list[CloudEvent]
    accepted: list[Accepted]
    skipped: list[Skipped]


def carrier_name(path_value: str) -> str | None:
    """The carrier named in the URL, normalised; None when it cannot be a carrier name."""
    name = normalise_carrier(path_value)
    return name if _CARRIER_NAME.fullmatch(name) else None


def _json(body: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(body)
    except RecursionError as e:
        raise WebhookPayloadError("body is not valid JSON: nested too deeply") from e
    except ValueError as e:  # not UTF-8, not JSON, or a number of more than 4,300 digits
        raise WebhookPayloadError(f"body is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise WebhookPayloadError("body must be a JSON object")
    return raw


def _nothing_readable(skipped: list[Skipped]) -> WebhookPayloadError:
    if not skipped:
        return WebhookPayloadError("push holds no tracking events")
    shown = "; ".join(f"{s.where}: {s.reason}" for s in skipped[:_REASONS_SHOWN])
    more = len(skipped) - _REASONS_SHOWN
    tail = f"; ... and {more} more" if more > 0 else ""
    return WebhookPayloadError(f"no readable scan in the push: {shown}{tail}")


def _parsed(carrier: str, body: bytes) -> Parsed:
    raw = _json(body)
    try:
        parsed = format_for(carrier).read(raw)
    except PushShapeError as e:
        raise WebhookPayloadError(str(e)) from e
    count = len(parsed.reports) + len(parsed.skipped)
    if count > MAX_EVENTS:
        raise WebhookPayloadError(f"push holds {count} events, at most {MAX_EVENTS}")
    return parsed


def parse_push(carrier: str, body: bytes) -> list[Report]:
    """The readable scans of a push in `carrier`'s shape; WebhookPayloadError when none is."""
    parsed = _parsed(carrier, body)
    if not parsed.reports:
        raise _nothing_readable(parsed.skipped)
    return parsed.reports


def event_id(carrier: str, tracking_number: str, native_code: str, time: datetime) -> str:
    """Deterministic: the same scan pushed twice gets the same CloudEvent id."""
    key = "|".join((carrier, tracking_number, normalise_code(native_code), format_time(time)))
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, key))


def _event(carrier: str, r: Report, window: EventTimeWindow | None) -> CloudEvent:
    """The scan as `tracking.reported`, read back as the consumer will read it (within the
    same event-time `window`), so that nothing but the broker can fail after this."""
    try:
        data = TrackingReported(
            carrier=carrier,
            tracking_number=r.tracking_number,
            native_code=r.native_code,
            native_type=r.native_type,
            description=r.description,
            location=r.location,
        )
        eid = event_id(data.carrier, data.tracking_number, data.native_code, r.time)
        ev = build(
            TRACKING_REPORTED,
            data,
            source=f"carrier/{data.carrier}-webhook",
            id=eid,
            time=r.time,
            subject=data.tracking_number,
        )
        parse(ev.to_json_bytes(), window=window)  # what the consumer would refuse
    except ValidationError as e:
        raise WebhookPayloadError(f"invalid tracking event: {short_errors(e)}") from e
    except (ValueError, OverflowError) as e:
        raise WebhookPayloadError(f"invalid tracking event: {e}") from e
    return ev


def read_push(carrier: str, body: bytes, window: EventTimeWindow | None = DEFAULT_WINDOW) -> Push:
    """Every readable scan as one event (repeats within the push collapsed), and the skipped
    ones with their reasons; WebhookPayloadError when no scan can be published."""
    parsed = _parsed(carrier, body)
    events: dict[str, CloudEvent] = {}
    accepted: list[Accepted] = []
    skipped = list(parsed.skipped)
    for r in parsed.reports:
        try:
            ev = _event(carrier, r, window)
        except WebhookPayloadError as e:
            skipped.append(Skipped(r.where, str(e), r.tracking_number))
            continue
        events.setdefault(ev.id, ev)
        accepted.append(Accepted(r.where, r, ev.id))
    if not events:
        raise _nothing_readable(skipped)
    return Push(list(events.values()), accepted, skipped)


def to_events(
    carrier: str, reports: list[Report], window: EventTimeWindow | None = DEFAULT_WINDOW
) -> list[CloudEvent]:
    """One `tracking.reported` per scan, repeats collapsed; the first unusable scan raises."""
    events: dict[str, CloudEvent] = {}
    for r in reports:
        ev = _event(carrier, r, window)
        events.setdefault(ev.id, ev)
    return list(events.values())


def events_from_push(
    carrier: str, body: bytes, window: EventTimeWindow | None = DEFAULT_WINDOW
) -> list[CloudEvent]:
    return read_push(carrier, body, window).events


def push_schema() -> dict[str, Any]:
    """The push body for the OpenAPI document: any one of the carriers' shapes."""
    shapes = []
    for name, fmt in FORMATS.items():
        variants = []
        for model in fmt.models:
            schema = model.model_json_schema()
            variants.append(_inline(schema, schema.pop("$defs", {})))
        shape = variants[0] if len(variants) == 1 else {"anyOf": variants}
        shape["title"] = f"{name} push"
        shapes.append(shape)
    return {
        "description": "ups, fedex, dhl and usps push the shapes their own APIs document "
        "(docs/carriers.md); any other carrier the generic one. Unknown fields are ignored. "
        "A scan whose time cannot be placed in UTC is skipped and listed in the answer.",
        "anyOf": shapes,
    }


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema with its `#/$defs/...` references replaced by the definitions."""
    if isinstance(node, list):
        return [_inline(x, defs) for x in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return _inline(defs[ref.removeprefix("#/$defs/")], defs)
    return {k: _inline(v, defs) for k, v in node.items()}
