"""What a DLQ message says (when it failed, how often it was handed out) and the properties of
its renewed copy; pure, so the reading in `shared.dlq_head` stays about the broker."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiormq.abc import DeliveredMessage
from pamqp import commands as spec

from shared import failures as F
from shared.amqp_batch import PropertiesWithoutId
from shared.amqp_wire import RawProperties

BROKER_COUNTERS = ("x-delivery-count", "x-acquired-count")  # set by the queue, never copied
PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "message_type",
    "app_id",
)  # all but user_id, which RabbitMQ accepts only when it names the publishing user


@dataclass(frozen=True)
class Head:
    """What the gauge reads off a DLQ's first message."""

    queue: str
    body: bytes
    headers: dict[str, Any]
    message_id: str | None = None
    timestamp: datetime | None = None

    @property
    def last_failure(self) -> datetime | None:
        """When it was dead-lettered: `last-failure-time`, else the broker's `x-death` time
        (a delivery limit), else the message's own timestamp."""
        t = _time(self.headers.get(F.H_LAST))
        if t is None:
            deaths = self.headers.get("x-death")
            if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
                t = _time(deaths[-1].get("time"))
        return t or _time(self.timestamp)

    @property
    def identity(self) -> str:
        return self.message_id or hashlib.sha1(self.body).hexdigest()

    @property
    def returns(self) -> int:
        """How often the queue handed it out and got it back."""
        return max(_count(self.headers.get(h)) for h in BROKER_COUNTERS)

    @classmethod
    def of(cls, queue: str, dm: DeliveredMessage) -> Head:
        p = dm.header.properties
        headers = p.headers if isinstance(p.headers, dict) else {}
        mid = p.message_id if isinstance(p.message_id, str) else None
        ts = p.timestamp if isinstance(p.timestamp, datetime) else None
        return cls(queue, dm.body, dict(headers), mid, ts)


def renewal_due(head: Head, renew_at: int) -> bool:
    """Handing `head` back once more would bring it to `renew_at` returns."""
    return bool(renew_at) and head.returns + 1 >= renew_at


def renewal_properties(dm: DeliveredMessage, head: Head) -> Any:
    """The message's own properties, and its headers without the queue's counters; where it
    was first published is written down if only the delivery said so (the copy comes in
    through the dead-letter exchange, which would lose it)."""
    p = dm.header.properties
    if isinstance(p, RawProperties) and p.user_id is None:
        return p  # undecodable: sent back byte for byte
    headers = {k: v for k, v in head.headers.items() if k not in BROKER_COUNTERS}
    exchange, key = dm.exchange or "", dm.routing_key or ""
    reentered = key == head.queue and exchange in ("", dlx_of(head.queue))
    if F.H_ORIG_EXCHANGE not in headers and not reentered:
        deaths = headers.get("x-death")
        death = deaths[-1] if isinstance(deaths, list) and deaths else {}
        death = death if isinstance(death, dict) else {}
        keys = death.get("routing-keys")
        headers[F.H_ORIG_EXCHANGE] = _text(
            headers.get("x-first-death-exchange") or death.get("exchange") or exchange
        )
        headers[F.H_ORIG_KEY] = _text(
            headers.get(F.H_ORIG_KEY) or (keys[0] if isinstance(keys, list) and keys else key)
        )
    props = {n: getattr(p, n) for n in PROPERTY_NAMES if getattr(p, n, None) is not None}
    if props.get("delivery_mode") not in (None, 1, 2):
        props["delivery_mode"] = 2  # pamqp encodes no other value; 2 keeps it on disk
    cls = spec.Basic.Properties if props.get("message_id") else PropertiesWithoutId
    return cls(headers=_amqp_safe(headers), **props)


def dlx_of(queue: str) -> str:
    """The dead-letter exchange that feeds the DLQ `queue`; empty for any other queue."""
    return queue[: -len(".dlq")] + ".dlx" if queue.endswith(".dlq") else ""


def _amqp_safe(v: Any) -> Any:
    """pamqp decodes a non-UTF-8 long string as bytes but only encodes bytearray."""
    if isinstance(v, bytes):
        return bytearray(v)
    if isinstance(v, dict):
        return {k: _amqp_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_amqp_safe(x) for x in v]
    return v


def _text(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode(errors="replace")
    return "" if v is None else str(v)


def _time(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, (str, bytes, bytearray)) and len(v) <= 100:
        try:
            t = datetime.fromisoformat(_text(v).strip().replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            return None
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return None


def _count(v: Any) -> int:
    """A count from a header of any type; 0 unless it reads as a whole number from 0 to 2**31."""
    try:
        n = int(v) if isinstance(v, (int, float)) else int(_text(v)) if v is not None else 0
    except (ValueError, OverflowError):
        return 0
    return n if 0 <= n < 2**31 else 0
