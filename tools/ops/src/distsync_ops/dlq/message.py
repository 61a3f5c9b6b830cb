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

from distsync_ops.dlq.values import _header_time, _int, _text, from_jsonable, iso, to_jsonable
from shared import dlq_message
from shared import failures as F
from shared.amqp_wire import RawProperties
from shared.dlq_message import BROKER_COUNTERS, dlx_of
from shared.topology import UNROUTED

H_PREV_ATTEMPTS = "previous-attempts"
MAX_JSON_DEPTH = 64  # a body nested deeper is shown as text: JSON encoders recurse per level
INLINE_EVENT_MAX = 256 * 1024  # a bigger body is summarized as an excerpt, never inlined
EXCERPT_CHARS = 2000
MAX_NAME_CHARS = 300  # ids, types and exception names read from a message, for display
# the properties a reader keeps: those the runtime's renewal copies, and `user_id`, which is
# archived but never published again (RabbitMQ accepts only the publishing user's own)
PROPERTY_NAMES = (*dlq_message.PROPERTY_NAMES, "user_id")


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
    raw_properties: bytes | None = None  # as received, when pamqp could not decode them
    undecodable: str | None = None  # why it could not (the properties above are lenient)

    @functools.cached_property
    def _decoded(self) -> tuple[Any, str | None]:
        return decode_json(self.body)

    @property
    def event(self) -> dict[str, Any] | None:
        """The body as a JSON object (a CloudEvent, usually), or None."""
        value = self._decoded[0]
        return value if isinstance(value, dict) else None

    @property
    def body_problem(self) -> str | None:
        """Why the body is not shown as an event: not JSON, too deep, not an object."""
        value, problem = self._decoded
        if problem is None and not isinstance(value, dict):
            return "JSON, but not an object"
        return problem

    def excerpt(self, chars: int = EXCERPT_CHARS) -> str:
        """The start of the body as text; bytes that are not UTF-8 appear as `\\xNN`."""
        return self.body[: chars * 4].decode("utf-8", errors="backslashreplace")[:chars]

    @property
    def reentered(self) -> bool:
        """Put into its queue directly (by hand, a restore or a renewal), not dead-lettered."""
        return self.routing_key == self.queue and self.exchange in ("", dlx_of(self.queue))

    @classmethod
    def from_delivery(cls, queue: str, position: int, dm: DeliveredMessage) -> DeadLetter:
        p = dm.header.properties
        props = {n: getattr(p, n) for n in PROPERTY_NAMES if getattr(p, n, None) is not None}
        headers = p.headers if isinstance(p.headers, dict) else {}
        raw = p.raw if isinstance(p, RawProperties) else None
        return cls(
            queue=queue,
            body=dm.body,
            properties=props,
            headers=dict(headers),
            exchange=dm.exchange or "",
            routing_key=dm.routing_key or "",
            position=position,
            raw_properties=raw,
            undecodable=p.problem if isinstance(p, RawProperties) else None,
        )

    @property
    def service(self) -> str:
        own = self.queue[: -len(".dlq")] if self.queue.endswith(".dlq") else self.queue
        return _clip(_text(self.headers.get(F.H_SERVICE))) or own

    @property
    def event_id(self) -> str | None:
        if self.event is not None and isinstance(self.event.get("id"), str):
            return _clip(str(self.event["id"]))
        return _clip(_text(self.properties.get("message_id")))

    @property
    def event_type(self) -> str:
        t = _text(self.headers.get(F.H_TYPE))
        if not t and self.event is not None and isinstance(self.event.get("type"), str):
            t = str(self.event["type"])
        return _clip(t or _text(self.properties.get("message_type"))) or "unknown"

    def header_text(self, name: str) -> str | None:
        """A header as text, whatever its type (bytes decoded); None when absent."""
        return _text(self.headers.get(name))

    def _death(self) -> dict[str, Any]:
        deaths = self.headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
            return deaths[-1]  # the oldest death is last
        return {}

    @property
    def exception_type(self) -> str:
        exc = _clip(_text(self.headers.get(F.H_EXC_TYPE)))
        if exc:
            return exc
        reason = _clip(_text(self.headers.get("x-first-death-reason")))
        if reason:
            return f"broker:{reason}"  # dead-lettered by the broker (delivery limit, expiry)
        if self.undecodable is not None:
            return "UndecodableProperties"
        return "Unrouted" if self.queue == UNROUTED else "unknown"

    @property
    def original_exchange(self) -> str:
        h = _text(self.headers.get(F.H_ORIG_EXCHANGE))
        if h is not None:
            return h
        x = _text(self.headers.get("x-first-death-exchange")) or _text(
            self._death().get("exchange")
        )
        if x is not None:
            return x
        return "" if self.reentered else self.exchange

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
        return _int(self.headers.get(F.H_ATTEMPTS))

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
            event=self.event if len(self.body) <= INLINE_EVENT_MAX else None,
        )
        if self.raw_properties is not None:
            out["raw_properties_b64"] = base64.b64encode(self.raw_properties).decode()
            out["undecodable"] = self.undecodable
        return out

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> DeadLetter:
        body = r["body"] if "body" in r else base64.b64decode(r["body_b64"])
        props, headers = r["properties"], r["headers"]
        if isinstance(props, str):  # MongoDB keeps them as JSON text (any key is allowed)
            props, headers = json.loads(props), json.loads(headers)
        raw = r.get("raw_properties_b64")
        return cls(
            queue=r["queue"],
            body=bytes(body),
            properties=from_jsonable(props),
            headers=from_jsonable(headers),
            exchange=r.get("exchange") or "",
            routing_key=r.get("routing_key") or "",
            raw_properties=base64.b64decode(raw) if raw else None,
            undecodable=r.get("undecodable"),
        )

    def summary(self, threshold: int) -> dict[str, Any]:
        """What `show` prints: identity, failure headers, counts, the CloudEvent."""
        names = (*F.FAILURE_HEADERS, F.H_REPLAY_COUNT, F.H_REPLAYED_BY, F.H_REPLAYED_AT)
        failure = {
            k: _shown(self.headers[k]) for k in (*names, H_PREV_ATTEMPTS) if k in self.headers
        }
        inline = self.event is not None and len(self.body) <= INLINE_EVENT_MAX
        return {
            "position": self.position,
            "queue": self.queue,
            "id": self.event_id,
            "type": self.event_type,
            "group": self.group,
            "exception_type": self.exception_type,
            "exception_message": _clip(_text(self.headers.get(F.H_EXC_MSG)), 16_000),
            "attempts": self.attempts,
            "first_failure": iso(self.first_failure),
            "last_failure": iso(self.last_failure),
            "replay_count": self.replay_count,
            "flagged": self.flagged(threshold),
            "original_exchange": self.original_exchange,
            "original_routing_key": self.original_routing_key,
            "headers": to_jsonable(failure),
            "event": self.event if inline else None,
            "body": None if inline else self.excerpt(),
            "body_bytes": len(self.body),
            "body_problem": self.body_problem,
            "undecodable_properties": self.undecodable,
        }


def group_id(exception_type: str, event_type: str, service: str) -> str:
    """A short, stable name for a failure group that an operator can type."""
    digest = hashlib.sha1(f"{exception_type}|{event_type}|{service}".encode()).hexdigest()
    return "g" + digest[:7]


def decode_json(body: bytes) -> tuple[Any, str | None]:
    """The body as JSON and None, or None and why it is not: however malformed it is, this
    returns (a body nested past the recursion limit raises RecursionError inside `json`)."""
    try:
        value = json.loads(body)
    except RecursionError:
        return None, "JSON nested too deep to decode"
    except UnicodeError:
        return None, "not UTF-8 text"
    except (ValueError, OverflowError) as e:
        return None, f"not JSON ({str(e)[:120]})"
    if _deeper_than(value, MAX_JSON_DEPTH):
        return None, f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    return value, None


def _deeper_than(value: Any, limit: int) -> bool:
    """Is `value` nested more than `limit` containers deep? (iterative: no recursion)"""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _shown(v: Any) -> Any:
    """A header value as `show` prints it: long text cut, deep tables as a short text."""
    if isinstance(v, (str, bytes, bytearray)):
        return v if len(v) <= 16_000 else f"{_text(v[:16_000])}…"
    if isinstance(v, (dict, list)) and _deeper_than(v, 16):
        return _clip(repr(v), 2000)
    return v


def _clip(text: str | None, n: int = MAX_NAME_CHARS) -> str | None:
    return text if text is None or len(text) <= n else text[: n - 1] + "…"
