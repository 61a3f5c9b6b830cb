"""Signed carrier pushes: verify the HMAC, parse the carrier's shape, build tracking.reported.

The event id is derived from carrier, tracking number, code and scan time, so a carrier that
re-sends a push produces the same ids and the consumer's inbox drops the repeats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from carrier_tracking.domain.carriers import normalise_carrier
from carrier_tracking.domain.carriers.table import normalise_code
from carrier_tracking.messages import TRACKING_REPORTED, TrackingReported
from carrier_tracking.webhook_formats import FORMATS, MAX_EVENTS, Report, format_for
from shared.bounds import EventTimeWindow
from shared.envelope import (
    DEFAULT_WINDOW,
    CloudEvent,
    build,
    format_time,
    parse,
    short_errors,
)

SIGNATURE_HEADER = "X-Distsync-Signature"
EXCHANGE = "carrier.events"
WEBHOOK_CARRIERS: tuple[str, ...] = tuple(FORMATS)
_CARRIER_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,31}$")
_EVENT_ID_NAMESPACE = uuid.UUID("5b0e2a1c-7d3f-4c1e-9a57-2f8d0c6b4e91")

SignatureProblem = Literal["missing", "malformed", "invalid"]


class WebhookPayloadError(ValueError):
    """The push is signed correctly but is not a payload we can read: answered with 422, a
    permanent refusal the carrier must not send again unchanged."""


def sign(secret: str, body: bytes) -> str:
    """The header value a carrier (or a test) sends: `sha256=<hex HMAC-SHA256 of the body>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(secret: str, body: bytes, header: str | None) -> SignatureProblem | None:
    """None when the header is the body's HMAC under `secret`; compared in constant time."""
    if not header or not header.strip():
        return "missing"
    scheme, sep, digest = header.strip().partition("=")
    if not sep or scheme.strip().lower() != "sha256" or not digest:
        return "malformed"
    expected = sign(secret, body).partition("=")[2]
    if not hmac.compare_digest(expected.encode(), digest.strip().lower().encode("utf-8")):
        return "invalid"
    return None


def carrier_name(path_value: str) -> str | None:
    """The carrier named in the URL, normalised; None when it cannot be a carrier name."""
    name = normalise_carrier(path_value)
    return name if _CARRIER_NAME.fullmatch(name) else None


def parse_push(carrier: str, body: bytes) -> list[Report]:
    """Read a push in `carrier`'s shape; raises WebhookPayloadError with a readable reason."""
    try:
        raw = json.loads(body)
    except RecursionError as e:
        raise WebhookPayloadError("body is not valid JSON: nested too deeply") from e
    except ValueError as e:  # not UTF-8, not JSON, or a number of more than 4,300 digits
        raise WebhookPayloadError(f"body is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise WebhookPayloadError("body must be a JSON object")
    fmt = format_for(carrier)
    try:
        payload = fmt.model.model_validate(raw)
    except ValidationError as e:
        raise WebhookPayloadError(f"not a {carrier} push: {short_errors(e)}") from e
    reports = fmt.reports(payload)
    if not reports:
        raise WebhookPayloadError("push holds no tracking events")
    if len(reports) > MAX_EVENTS:
        raise WebhookPayloadError(f"push holds {len(reports)} events, at most {MAX_EVENTS}")
    return reports


def event_id(carrier: str, tracking_number: str, native_code: str, time: datetime) -> str:
    """Deterministic: the same scan pushed twice gets the same CloudEvent id."""
    key = "|".join((carrier, tracking_number, normalise_code(native_code), format_time(time)))
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, key))


def to_events(
    carrier: str, reports: list[Report], window: EventTimeWindow | None = DEFAULT_WINDOW
) -> list[CloudEvent]:
    """One `tracking.reported` per scan, repeats within the push collapsed. Each one is read
    back as the consumer will read it (within the same event-time `window`), so that nothing
    but the broker can fail after this."""
    events: dict[str, CloudEvent] = {}
    for r in reports:
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
        events.setdefault(eid, ev)
    return list(events.values())


def events_from_push(
    carrier: str, body: bytes, window: EventTimeWindow | None = DEFAULT_WINDOW
) -> list[CloudEvent]:
    return to_events(carrier, parse_push(carrier, body), window)


def push_schema() -> dict[str, Any]:
    """The push body for the OpenAPI document: any one of the formats' shapes."""
    shapes = []
    for name, fmt in FORMATS.items():
        schema = fmt.model.model_json_schema()
        shape = _inline(schema, schema.pop("$defs", {}))
        shape["title"] = f"{name} push"
        shapes.append(shape)
    return {
        "description": "ups, fedex, dhl and usps push their own shape; any other carrier the "
        "generic one. Unknown fields are ignored; every time needs a UTC offset.",
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
