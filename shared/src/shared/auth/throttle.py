"""Token buckets per client and route group; 429 with Retry-After once a bucket is empty.

Per process: with N replicas behind a load balancer a client gets up to N times the rate.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import Counter

from shared.auth.settings import AuthSettings

THROTTLE = Counter(
    "distsync_http_requests_by_client_total",
    "Authenticated requests by client, route group and outcome (allowed, throttled)",
    ["service", "client", "group", "outcome"],
)
AUTH_FAILURES = Counter(
    "distsync_http_auth_failures_total",
    "Requests refused before the route ran, by reason (unauthenticated, forbidden, unavailable)",
    ["service", "reason"],
)

MAX_BUCKETS = 10_000  # least recently used buckets beyond this are dropped (a full bucket again)
MAX_CLIENT_LABELS = 50  # distinct client labels per process; later clients count as "other"


class _Bucket:
    __slots__ = ("at", "tokens")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class Throttle:
    def __init__(
        self,
        settings: AuthSettings,
        service: str,
        clock: Callable[[], float] = time.monotonic,
        known_clients: tuple[str, ...] = (),
    ) -> None:
        self.settings = settings
        self.service = service
        self.clock = clock
        self.buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self.labels: set[str] = set(known_clients[:MAX_CLIENT_LABELS])

    def take(self, client: str, group: str) -> float | None:
        """None when the request may go ahead; else the seconds until it could."""
        limit = self.settings.rate_for(group)
        now = self.clock()
        key = (client, group)
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = _Bucket(float(limit.burst), now)
            if len(self.buckets) > MAX_BUCKETS:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
            b.tokens = min(float(limit.burst), b.tokens + (now - b.at) * limit.rate)
            b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            self._count(client, group, "allowed")
            return None
        self._count(client, group, "throttled")
        return (1.0 - b.tokens) / limit.rate

    def _count(self, client: str, group: str, outcome: str) -> None:
        THROTTLE.labels(self.service, self.label(client), group, outcome).inc()

    def label(self, client: str) -> str:
        """The client as a metric label: the first MAX_CLIENT_LABELS seen, then "other"."""
        client = client[:64]
        if client in self.labels:
            return client
        if len(self.labels) < MAX_CLIENT_LABELS:
            self.labels.add(client)
            return client
        return "other"


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
