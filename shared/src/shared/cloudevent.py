"""The CloudEvents 1.0 envelope as a model: build an event, encode it, mirror it onto AMQP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from shared.bounds import MAX_ID_CHARS, MAX_TEXT_CHARS, IdChars, UtcDatetime

CONTENT_TYPE = "application/cloudevents+json"

_ShortChars = Annotated[str, StringConstraints(max_length=MAX_ID_CHARS)]


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope with distsync's `correlationid`/`causationid` extensions."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str
    id: IdChars
    source: IdChars
    type: IdChars
    time: UtcDatetime
    datacontenttype: _ShortChars | None = "application/json"
    subject: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)] | None = None
    correlationid: _ShortChars | None = None
    causationid: _ShortChars | None = None
    data: Any = None

    @field_validator("specversion")
    @classmethod
    def _spec(cls, v: str) -> str:
        if v != "1.0":
            raise ValueError("specversion must be '1.0'")
        return v

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
    """Compact JSON; NaN and infinities raise ValueError, as they are not JSON."""
    return json.dumps(obj, separators=(",", ":"), default=_default, allow_nan=False).encode()


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return format_time(o)
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json", exclude_none=True)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


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
    return mirrored_properties(ev.id, ev.type, ev.correlationid, ev.time)


def mirrored_properties(
    id: str, type: str, correlationid: str | None, time: datetime | None
) -> dict[str, Any]:
    """The AMQP properties of an event with these envelope values (contract §1)."""
    return {
        "message_id": id,
        "type": type,
        "correlation_id": correlationid,
        "timestamp": time,
        "content_type": CONTENT_TYPE,
        "delivery_mode": 2,
    }
