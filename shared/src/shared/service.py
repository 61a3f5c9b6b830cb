"""How a service declares itself to the runtime: what it consumes, publishes, stores and serves."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from shared.cloudevent import CloudEvent

if TYPE_CHECKING:
    from fastapi import APIRouter

    from shared.settings import ServiceSettings
    from shared.uow import UnitOfWork

M = TypeVar("M", bound=BaseModel)

INGRESS_EXCHANGES = ("erp.events", "wms.events", "carrier.events", "commerce.events")

# Every service of the system, in the order tools list them: (name, Python package, local HTTP
# port). The one list: settings, topology, the tools and deploy/rabbitmq/generate_definitions.py
# (which reads this literal without importing it) derive theirs from it.
SERVICE_TABLE: tuple[tuple[str, str, int], ...] = (
    ("availability", "availability", 8001),
    ("order-status", "order_status", 8002),
    ("receipt", "receipt", 8003),
    ("returns", "returns", 8004),
    ("carrier-tracking", "carrier_tracking", 8005),
    ("ingress", "ingress", 8006),
)
SERVICE_NAMES = tuple(name for name, _, _ in SERVICE_TABLE)
SERVICE_PACKAGES = {name: package for name, package, _ in SERVICE_TABLE}


def service_exchange(service: str) -> str:
    return f"{service}.events"


@dataclass(frozen=True)
class Incoming(Generic[M]):
    """One validated message as a handler sees it."""

    envelope: CloudEvent
    data: M
    exchange: str
    routing_key: str
    received_at: datetime

    @property
    def time(self) -> datetime:
        return self.envelope.time

    @property
    def id(self) -> str:
        return self.envelope.id


Handler = Callable[[Incoming[Any], "UnitOfWork"], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """Events of `type`, arriving on any of `exchanges`, validated by `model`, go to `handler`."""

    type: str
    model: builtins.type[BaseModel]
    handler: Handler
    exchanges: tuple[str, ...]
    # (collection, key) pairs the handler will `uow.get`: read for the whole batch in one query
    preload: Callable[[Any], Iterable[tuple[str, str]]] | None = None


@dataclass(frozen=True)
class Publication:
    """An event type this service publishes on its own exchange."""

    type: str
    model: builtins.type[BaseModel]
    description: str = ""


@dataclass
class ApiContext:
    """What an HTTP read API may use: the service's database and a confirmed publisher."""

    service: str
    db: Any  # pymongo.asynchronous.database.AsyncDatabase
    settings: ServiceSettings
    publish: Callable[[str, CloudEvent], Awaitable[None]]  # (exchange, event), confirmed


@dataclass(frozen=True)
class PeriodicTask:
    """Work run every `interval_s` seconds; `fn` gets the runtime's TaskContext."""

    name: str
    interval_s: float
    fn: Callable[[TaskContext], Awaitable[None]]


@dataclass
class TaskContext:
    service: str
    db: Any
    settings: ServiceSettings
    run_in_transaction: Callable[[Callable[[UnitOfWork], Awaitable[None]]], Awaitable[None]]
    # (exchange, event), confirmed: the API's publisher, for a task that publishes itself
    publish: Callable[[str, CloudEvent], Awaitable[None]] | None = None


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    routes: tuple[Route, ...]
    publishes: tuple[Publication, ...] = ()
    setup_store: Callable[[Any], Awaitable[None]] | None = None
    api: Callable[[ApiContext], APIRouter] | None = None
    periodic: tuple[PeriodicTask, ...] = ()
    settings_cls: type[ServiceSettings] | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Collections whose documents almost every message reads and few write (a registry):
    # preloaded like the others, but they do not keep two batches from running at once (the
    # consumer schedules batches by the other preload keys); a rare concurrent write of one
    # is a write conflict, retried.
    shared_reads: frozenset[str] = frozenset()
    # the scope every route of `api` needs (routes marked `shared.auth.own_authentication`
    # excepted); None: the default table's (shared.auth.scopes), else `<name>:read`
    read_scope: str | None = None

    @property
    def exchange(self) -> str:
        return service_exchange(self.name)

    @property
    def queue(self) -> str:
        return f"{self.name}.main"

    def route_for(self, type_: str) -> Route | None:
        for r in self.routes:
            if r.type == type_:
                return r
        return None

    def bindings(self) -> list[tuple[str, str]]:
        """(exchange, routing key) pairs bound to this service's main queue."""
        out: list[tuple[str, str]] = []
        for r in self.routes:
            for ex in r.exchanges:
                if (ex, r.type) not in out:
                    out.append((ex, r.type))
        return out
