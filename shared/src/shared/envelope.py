"""CloudEvents 1.0 structured-JSON envelope: parse, validate, build, mirror onto AMQP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONTENT_TYPE = "application/cloudevents+json"
KNOWN_SYSTEMS = ("erp", "wms", "tms", "carrier", "commerce", "edi", "portal")


class EnvelopeError(ValueError):
    """The body is not a valid CloudEvent; carries a reason an operator can read."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope with distsync's `correlationid`/`causationid` extensions."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str
    id: str = Field(min_length=1, max_length=256)
    source: str = Field(min_length=1, max_length=256)
    type: str = Field(min_length=1, max_length=128)
    time: datetime
    datacontenttype: str | None = "application/json"
    subject: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    data: Any = None

    @field_validator("specversion")
    @classmethod
    def _spec(cls, v: str) -> str:
        if v != "1.0":
            raise ValueError("specversion must be '1.0'")
        return v

    @field_validator("time")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            return v.replace(tzinfo=UTC)
        return v.astimezone(UTC)

    @property
    def system(self) -> str:
        """The `<system>` part of `source`; it selects per-source mapping tables."""
        return self.source.split("/", 1)[0].lower()

    def to_json_bytes(self) -> bytes:
        return encode(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        d = self.model_dump(mode="json", exclude_none=True)
        d["time"] = format_time(self.time)
        return d


def format_time(t: datetime) -> str:
    """RFC 3339 with milliseconds and a Z suffix."""
    t = t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=_default).encode()


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return format_time(o)
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json", exclude_none=True)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def parse(body: bytes) -> CloudEvent:
    """Parse a message body; raises EnvelopeError with kind `malformed` or `not_cloudevent`."""
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EnvelopeError("malformed", f"body is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise EnvelopeError("not_cloudevent", "body is JSON but not an object")
    try:
        return CloudEvent.model_validate(raw)
    except ValidationError as e:
        raise EnvelopeError("not_cloudevent", "not a CloudEvent: " + short_errors(e)) from e


def short_errors(e: ValidationError, limit: int = 5) -> str:
    """A compact, readable summary of pydantic errors: `field.path: message; ...`."""
    parts = []
    for err in e.errors()[:limit]:
        loc = ".".join(str(x) for x in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    more = len(e.errors()) - limit
    if more > 0:
        parts.append(f"... and {more} more")
    return "; ".join(parts)


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def build(
    type: str,
    data: Any,
    *,
    source: str,
    id: str | None = None,
    time: datetime | None = None,
    correlationid: str | None = None,
    causationid: str | None = None,
    subject: str | None = None,
) -> CloudEvent:
    """Build an outgoing CloudEvent; `data` may be a pydantic model or a plain dict."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_none=True)
    return CloudEvent(
        specversion="1.0",
        id=id or new_id(),
        source=source,
        type=type,
        time=_to_ms(time or now()),
        datacontenttype="application/json",
        correlationid=correlationid,
        causationid=causationid,
        subject=subject,
        data=data,
    )


def _to_ms(t: datetime) -> datetime:
    """Millisecond precision, so an event equals what its JSON says."""
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def amqp_properties(ev: CloudEvent) -> dict[str, Any]:
    """AMQP properties that mirror the envelope, as the contract requires."""
    return {
        "message_id": ev.id,
        "type": ev.type,
        "correlation_id": ev.correlationid,
        "timestamp": ev.time,
        "content_type": CONTENT_TYPE,
        "delivery_mode": 2,
    }
