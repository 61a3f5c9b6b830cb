"""One dead-lettered message, and what its headers say about its failure."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiormq.abc import DeliveredMessage

from shared import failures as F
from shared.dlq.values import _header_time, _int, _text, from_jsonable, iso, to_jsonable
from shared.topology import UNROUTED

H_PREV_ATTEMPTS = "previous-attempts"
BROKER_COUNTERS = ("x-delivery-count", "x-acquired-count")  # set by the queue, never restored
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
    "user_id",
    "app_id",
)


@dataclass
class DeadLetter:
    """A message in a DLQ (or in `unrouted`), with what its headers say about its failure."""

    queue: str
    body: bytes
    properties: dict[str, Any]
    headers: dict[str, Any]
    exchange: str = ""
    routing_key: str = ""
    position: int = 0

    @functools.cached_property
    def event(self) -> dict[str, Any] | None:
        """The body as a JSON object (a CloudEvent, usually), or None."""
        try:
            raw = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None
        return raw if isinstance(raw, dict) else None

    @classmethod
    def from_delivery(cls, queue: str, position: int, dm: DeliveredMessage) -> DeadLetter:
        p = dm.header.properties
        props = {n: getattr(p, n) for n in PROPERTY_NAMES if getattr(p, n, None) is not None}
        return cls(
            queue=queue,
            body=dm.body,
            properties=props,
            headers=dict(p.headers or {}),
            exchange=dm.exchange or "",
            routing_key=dm.routing_key or "",
            position=position,
        )

    @property
    def service(self) -> str:
        own = self.queue[: -len(".dlq")] if self.queue.endswith(".dlq") else self.queue
        return _text(self.headers.get(F.H_SERVICE)) or own

    @property
    def event_id(self) -> str | None:
        if self.event is not None and isinstance(self.event.get("id"), str):
            return str(self.event["id"])
        return _text(self.properties.get("message_id"))

    @property
    def event_type(self) -> str:
        t = _text(self.headers.get(F.H_TYPE))
        if not t and self.event is not None and isinstance(self.event.get("type"), str):
            t = str(self.event["type"])
        return t or _text(self.properties.get("message_type")) or "unknown"

    def _death(self) -> dict[str, Any]:
        deaths = self.headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
            return deaths[-1]  # the oldest death is last
        return {}

    @property
    def exception_type(self) -> str:
        exc = _text(self.headers.get(F.H_EXC_TYPE))
        if exc:
            return exc
        reason = _text(self.headers.get("x-first-death-reason"))
        if reason:
            return f"broker:{reason}"  # dead-lettered by the broker (delivery limit, expiry)
        return "Unrouted" if self.queue == UNROUTED else "unknown"

    @property
    def original_exchange(self) -> str:
        h = _text(self.headers.get(F.H_ORIG_EXCHANGE))
        if h is not None:
            return h
        x = _text(self.headers.get("x-first-death-exchange")) or _text(
            self._death().get("exchange")
        )
        return x if x is not None else self.exchange

    @property
    def original_routing_key(self) -> str:
        h = _text(self.headers.get(F.H_ORIG_KEY))
        if h:
            return h
        keys = self._death().get("routing-keys")
        if isinstance(keys, list) and keys:
            return _text(keys[0]) or ""
        return self.routing_key

    @property
    def first_failure(self) -> datetime | None:
        return _header_time(self.headers.get(F.H_FIRST)) or self.last_failure

    @property
    def last_failure(self) -> datetime | None:
        t = _header_time(self.headers.get(F.H_LAST)) or _header_time(self._death().get("time"))
        return t or _header_time(self.properties.get("timestamp"))

    @property
    def attempts(self) -> int:
        return F.attempts_of(self.headers)

    @property
    def replay_count(self) -> int:
        return _int(self.headers.get(F.H_REPLAY_COUNT))

    @property
    def returns(self) -> int:
        """How often the queue handed this message out and got it back (poison-message count)."""
        return max(_int(self.headers.get(h)) for h in BROKER_COUNTERS)

    @property
    def group_key(self) -> str:
        return f"{self.exception_type}|{self.event_type}|{self.service}"

    @property
    def group(self) -> str:
        return group_id(self.exception_type, self.event_type, self.service)

    def flagged(self, threshold: int) -> bool:
        return self.replay_count >= threshold

    def record(self, **extra: Any) -> dict[str, Any]:
        """The archive/export form: exact body (base64), properties and headers, plus context."""
        out: dict[str, Any] = dict(extra)
        out.update(
            queue=self.queue,
            service=self.service,
            group=self.group,
            event_id=self.event_id,
            event_type=self.event_type,
            exception_type=self.exception_type,
            exchange=self.exchange,
            routing_key=self.routing_key,
            body_b64=base64.b64encode(self.body).decode(),
            properties=to_jsonable(self.properties),
            headers=to_jsonable(self.headers),
            event=self.event,
        )
        return out

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> DeadLetter:
        body = r["body"] if "body" in r else base64.b64decode(r["body_b64"])
        props, headers = r["properties"], r["headers"]
        if isinstance(props, str):  # MongoDB keeps them as JSON text (any key is allowed)
            props, headers = json.loads(props), json.loads(headers)
        return cls(
            queue=r["queue"],
            body=bytes(body),
            properties=from_jsonable(props),
            headers=from_jsonable(headers),
            exchange=r.get("exchange") or "",
            routing_key=r.get("routing_key") or "",
        )

    def summary(self, threshold: int) -> dict[str, Any]:
        """What `show` prints: identity, failure headers, counts, the CloudEvent."""
        names = (*F.FAILURE_HEADERS, F.H_REPLAY_COUNT, F.H_REPLAYED_BY, F.H_REPLAYED_AT)
        failure = {k: self.headers[k] for k in (*names, H_PREV_ATTEMPTS) if k in self.headers}
        return {
            "position": self.position,
            "queue": self.queue,
            "id": self.event_id,
            "type": self.event_type,
            "group": self.group,
            "exception_type": self.exception_type,
            "exception_message": _text(self.headers.get(F.H_EXC_MSG)),
            "attempts": self.attempts,
            "first_failure": iso(self.first_failure),
            "last_failure": iso(self.last_failure),
            "replay_count": self.replay_count,
            "flagged": self.flagged(threshold),
            "original_exchange": self.original_exchange,
            "original_routing_key": self.original_routing_key,
            "headers": to_jsonable(failure),
            "event": self.event,
            "body": None if self.event is not None else self.body[:2000].decode(errors="replace"),
        }


def group_id(exception_type: str, event_type: str, service: str) -> str:
    """A short, stable name for a failure group that an operator can type."""
    digest = hashlib.sha1(f"{exception_type}|{event_type}|{service}".encode()).hexdigest()
    return "g" + digest[:7]
