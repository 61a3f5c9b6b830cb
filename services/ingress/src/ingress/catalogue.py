"""What the ingress may publish and how each event's `data` is checked, from the services' own
routes: the one map of (exchange, type) to the models of every service bound there.

The services are found through their `distsync.services` entry points, never imported by name,
so the ingress follows whatever the installed services consume. An event is valid only when every
consumer bound to its (exchange, type) would take it: otherwise it would reach a dead-letter
queue, which is what the ingress exists to prevent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.envelope import short_errors
from shared.service import INGRESS_EXCHANGES, ServiceDefinition


@dataclass(frozen=True)
class Consumer:
    service: str
    model: type[BaseModel]


@dataclass
class Catalogue:
    consumers: dict[tuple[str, str], list[Consumer]] = field(default_factory=dict)

    @classmethod
    def of(cls, services: Iterable[ServiceDefinition]) -> Catalogue:
        cat = cls()
        for svc in services:
            for route in svc.routes:
                for exchange in route.exchanges:
                    if exchange in INGRESS_EXCHANGES:
                        key = (exchange, route.type)
                        cat.consumers.setdefault(key, []).append(Consumer(svc.name, route.model))
        return cat

    @classmethod
    def installed(cls) -> Catalogue:
        """From every service installed beside the ingress (its entry points)."""
        from shared.topology import all_services

        return cls.of(s for s in all_services() if s.name != "ingress")

    def types_by_exchange(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {ex: set() for ex in INGRESS_EXCHANGES}
        for exchange, type_ in self.consumers:
            out[exchange].add(type_)
        return {ex: frozenset(ts) for ex, ts in out.items()}

    def problem(self, exchange: str, type_: str, data: Any) -> str | None:
        """Why `data` of `type_` on `exchange` would be refused by a consumer, or None."""
        reasons: dict[str, list[str]] = {}  # reason -> the services that give it
        for c in self.consumers.get((exchange, type_), ()):
            try:
                c.model.model_validate(data)
            except ValidationError as e:
                reasons.setdefault(short_errors(e), []).append(c.service)
        if not reasons:
            return None
        parts = [f"{', '.join(svcs)}: {why}" for why, svcs in reasons.items()]
        return f"data of {type_} is invalid ({' | '.join(parts)})"
