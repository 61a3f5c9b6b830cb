"""Failure headers carried by retried and dead-lettered messages (no `x-` prefix)."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime
from typing import Any

H_KIND = "failure-kind"
H_EXC_TYPE = "exception-type"
H_EXC_MSG = "exception-message"
H_STACK = "stack-trace"
H_SERVICE = "service"
H_QUEUE = "queue"
H_ORIG_EXCHANGE = "original-exchange"
H_ORIG_KEY = "original-routing-key"
H_FIRST = "first-failure-time"
H_LAST = "last-failure-time"
H_ATTEMPTS = "attempts"
H_TYPE = "event-type"
H_REPLAY_COUNT = "replay-count"
H_REPLAYED_BY = "replayed-by"
H_REPLAYED_AT = "replayed-at"
STACK_CHARS = 2000  # how much of a traceback's end the stack-trace header keeps

FAILURE_HEADERS = (
    H_KIND,
    H_EXC_TYPE,
    H_EXC_MSG,
    H_STACK,
    H_SERVICE,
    H_QUEUE,
    H_ORIG_EXCHANGE,
    H_ORIG_KEY,
    H_FIRST,
    H_LAST,
    H_ATTEMPTS,
    H_TYPE,
)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def attempts_of(headers: dict[str, Any]) -> int:
    """How many failed attempts a message's headers record."""
    v = headers.get(H_ATTEMPTS, 0)
    try:
        return int(v) if isinstance(v, (int, str, float)) else 0
    except ValueError:
        return 0


def stack_excerpt(exc: BaseException) -> str:
    """The end of the traceback, where the failure is, within the header's size."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=8))
    return text[-STACK_CHARS:]


def failure_headers(
    *,
    previous: dict[str, Any],
    exc: BaseException,
    kind: str,
    service: str,
    queue: str,
    exchange: str,
    routing_key: str,
    event_type: str | None,
) -> dict[str, Any]:
    """Merge a new failure into the headers a message already carries. A message that arrived
    on a named exchange records that exchange and routing key, whatever headers its publisher
    wrote; one that arrived through the default exchange (back from a retry queue or a replay)
    keeps the original ones its earlier failure recorded."""
    now = _iso(datetime.now(UTC))
    h = {k: v for k, v in previous.items() if not str(k).startswith("x-")}
    attempts = attempts_of(h) + 1
    h.update(
        {
            H_KIND: kind,
            H_EXC_TYPE: type(exc).__name__,
            H_EXC_MSG: str(exc)[:1000],
            H_STACK: stack_excerpt(exc),
            H_SERVICE: service,
            H_QUEUE: queue,
            H_ORIG_EXCHANGE: exchange or str(h.get(H_ORIG_EXCHANGE) or ""),
            H_ORIG_KEY: routing_key if exchange else str(h.get(H_ORIG_KEY) or routing_key),
            H_FIRST: str(h.get(H_FIRST) or now),
            H_LAST: now,
            H_ATTEMPTS: attempts,
        }
    )
    if event_type:
        h[H_TYPE] = event_type
    return h
