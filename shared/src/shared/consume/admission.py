"""Admission: a delivery becomes a validated message with its route and the documents it
touches, or is refused with a permanent error that sends it to the DLQ before any batch."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from shared import failures as F
from shared.bounds import EventTimeWindow
from shared.envelope import CloudEvent, parse, short_errors
from shared.errors import ContractViolation, SchemaInvalid, UnknownType
from shared.retention import DedupHorizon
from shared.service import Incoming, Route, ServiceDefinition
from shared.topology import partitions_exchange

ANY_KEY = "*"  # the partition key of a message whose route names no documents


@dataclass
class Parsed:
    """A delivery that passed admission, with what the scheduler and its batch need."""

    message: AbstractIncomingMessage
    envelope: CloudEvent
    route: Route
    incoming: Incoming[Any]
    preload: list[tuple[str, str]]  # (collection, key) the handler will read
    keys: tuple[str, ...]  # what it touches, for scheduling: no two batches in flight share one


class Admission:
    """Checks one service's deliveries as they arrive, so no invalid message reaches a batch."""

    def __init__(
        self,
        svc: ServiceDefinition,
        window: EventTimeWindow | None,
        horizon: DedupHorizon | None = None,
    ) -> None:
        self.svc = svc
        self.window = window
        self.horizon = horizon  # older events could apply twice: `beyond_dedup_horizon`

    def parse(self, m: AbstractIncomingMessage) -> Parsed:
        """The delivery as a `Parsed`; EnvelopeError or PermanentError when it cannot be one."""
        ev = parse(m.body, window=self.window)
        now = datetime.now(UTC)
        if self.horizon is not None:
            self.horizon.check(ev.time, now)
        route = self.svc.route_for(ev.type)
        if route is None:
            raise UnknownType(f"service {self.svc.name} has no handler for type {ev.type!r}")
        exchange, key = arrival(m, self.svc.name)
        check_arrival(ev.type, exchange, key, route)
        try:
            data = route.model.model_validate(ev.data)
        except ValidationError as e:
            raise SchemaInvalid(f"data of {ev.type} is invalid: {short_errors(e)}") from e
        inc = Incoming(ev, data, exchange, key, now)
        preload: list[tuple[str, str]] = []
        if route.preload is not None:
            with contextlib.suppress(Exception):  # the handler will fail on it, in its batch
                preload = list(route.preload(data))
        shared = self.svc.shared_reads
        keys = tuple(f"{c}\x00{k}" for c, k in preload if c not in shared) or (ANY_KEY,)
        return Parsed(m, ev, route, inc, preload, keys)


def arrival(m: AbstractIncomingMessage, service: str | None = None) -> tuple[str, str]:
    """The exchange and routing key a message was published with. A message delivered through
    the default exchange came back from a retry queue or an operator's replay, and its failure
    headers name where it first arrived; so does one the partition router of `service` moved
    (it writes the broker's values it read into those headers, and only the service's own user
    may publish to its partitions exchange). On any other exchange the broker's own values
    count, so a publisher cannot claim another exchange through headers it writes itself."""
    if m.exchange and (service is None or m.exchange != partitions_exchange(service)):
        return m.exchange, m.routing_key or ""
    headers = m.headers or {}
    return str(headers.get(F.H_ORIG_EXCHANGE) or ""), str(headers.get(F.H_ORIG_KEY) or "")


def check_arrival(event_type: str, exchange: str, key: str, route: Route) -> None:
    """A CloudEvent's `type` must equal the routing key it was published with, on an exchange
    its route accepts: the broker's per-publisher write permissions are per exchange, and a
    `type` that differs from the routing key would get round them."""
    if key != event_type:
        raise ContractViolation(
            f"type {event_type!r} does not match the routing key {key!r} it was published with"
        )
    if exchange not in route.exchanges:
        accepted = ", ".join(route.exchanges)
        raise ContractViolation(
            f"type {event_type!r} is not accepted from exchange {exchange!r} (accepted: {accepted})"
        )


def peek_type(m: AbstractIncomingMessage) -> str | None:
    """The type of a refused delivery, as far as it can be read, for its failure headers."""
    with contextlib.suppress(Exception):
        return parse(m.body, window=None).type
    return m.type
