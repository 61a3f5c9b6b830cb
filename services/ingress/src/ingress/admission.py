"""One event in, checked before anything is published: envelope and bounds (`shared.envelope`),
who may publish it where (`domain.systems`), and its `data` against every consumer's model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingress.catalogue import Catalogue
from ingress.domain.systems import Refusal, system_of, where_to
from shared.bounds import EventTimeWindow
from shared.cloudevent import encode
from shared.envelope import CloudEvent, EnvelopeError, parse

# the HTTP status a refusal of each kind answers with
STATUS: dict[str, int] = {
    "malformed": 400,
    "too_large": 400,
    "not_cloudevent": 400,
    "out_of_range": 400,
    "forbidden": 403,
    "unknown_type": 422,
    "contract_violation": 422,
    "schema_invalid": 422,
}


@dataclass(frozen=True)
class Admitted:
    event: CloudEvent
    exchange: str

    @property
    def system(self) -> str:
        return system_of(self.event.source)


@dataclass(frozen=True)
class Refused:
    kind: str
    reason: str
    id: str | None = None
    type: str | None = None
    source: str | None = None

    @property
    def status(self) -> int:
        return STATUS.get(self.kind, 422)


class Gate:
    """Admits events for one deployment: its catalogue and its event-time window."""

    def __init__(self, catalogue: Catalogue, window: EventTimeWindow) -> None:
        self.catalogue = catalogue
        self.window = window
        self.types_by_exchange = catalogue.types_by_exchange()

    def admit_bytes(
        self, body: bytes, allowed: frozenset[str] | None, now: datetime | None = None
    ) -> Admitted | Refused:
        try:
            ev = parse(body, window=self.window, now=now)
        except EnvelopeError as e:
            return Refused(e.kind, e.reason)
        return self.admit(ev, allowed)

    def admit_object(
        self, obj: Any, allowed: frozenset[str] | None, now: datetime | None = None
    ) -> Admitted | Refused:
        """An event given as a decoded JSON value (one element of a batch, or binary mode)."""
        try:
            body = encode(obj)
        except (TypeError, ValueError) as e:
            return Refused("malformed", f"not JSON: {e}")
        return self.admit_bytes(body, allowed, now)

    def admit(self, ev: CloudEvent, allowed: frozenset[str] | None) -> Admitted | Refused:
        where = where_to(system_of(ev.source), ev.type, allowed, self.types_by_exchange)
        if isinstance(where, Refusal):
            return Refused(where.kind, where.reason, ev.id, ev.type, ev.source)
        problem = self.catalogue.problem(where, ev.type, ev.data)
        if problem is not None:
            return Refused("schema_invalid", problem, ev.id, ev.type, ev.source)
        return Admitted(ev, where)
