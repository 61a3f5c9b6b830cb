"""Unit of work: one batch's reads, writes and emitted events, committed in one transaction.

Handlers read aggregates by key (`get`), replace them (`put`) and `emit` events. Everything
written is flushed together with the inbox and outbox when the batch commits, so a state change
and the events it produces are saved, or not, together.
"""

from __future__ import annotations

import copy
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from bson import Decimal128, ObjectId
from pydantic import BaseModel, ValidationError

from shared.cloudevent import CloudEvent, build, now
from shared.envelope import short_errors
from shared.errors import OutgoingEventInvalid

# `source` is `<system>/<instance>`; for distsync's own events the system is the service name
INSTANCE = (os.environ.get("DISTSYNC_INSTANCE") or socket.gethostname() or "local").lower()

Contract = Mapping[str, type[BaseModel]]
"""The events a service publishes: `type` -> the pydantic model of its `data`."""


def contract_from(publications: Iterable[Any]) -> Contract | None:
    """A service's contract from its `ServiceDefinition.publishes`; None when it publishes
    nothing (then nothing is checked)."""
    return {p.type: p.model for p in publications} or None


def check_outgoing(service: str, contract: Contract, type: str, data: Any) -> None:
    """OutgoingEventInvalid unless `contract` publishes `type` and its model accepts `data`
    (the event's `data` as JSON), as a consumer's validation will."""
    model = contract.get(type)
    if model is None:
        known = ", ".join(sorted(contract))
        raise OutgoingEventInvalid(
            f"{service} emitted {type!r}, which is not among the events it publishes ({known})"
        )
    try:
        model.model_validate(data)
    except ValidationError as e:
        raise OutgoingEventInvalid(
            f"{service} emitted a {type!r} event that breaks its contract: " + short_errors(e)
        ) from e


@dataclass
class PendingEvent:
    exchange: str
    key: str
    event: CloudEvent
    body: bytes | None = None  # the event as JSON, encoded once when it was emitted
    validated: bool = False  # checked against the service's contract when it was emitted


class UnitOfWork(Protocol):
    service: str

    async def get(
        self, collection: str, key: str, *, copy: bool = True
    ) -> dict[str, Any] | None: ...

    def put(self, collection: str, key: str, doc: dict[str, Any]) -> None: ...

    def emit(
        self,
        type: str,
        data: BaseModel | dict[str, Any],
        *,
        key: str,
        time: datetime | None = None,
        correlationid: str | None = None,
    ) -> CloudEvent: ...

    def on_commit(self, fn: Callable[[], None]) -> None: ...

    @property
    def settings(self) -> Any: ...


_IMMUTABLE = (str, int, float, bool, bytes, type(None), datetime, Decimal, Decimal128, ObjectId)


def clone(value: Any) -> Any:
    """A deep copy of a stored document: handlers may change what `get` returns without
    touching the identity map. Cheaper than `copy.deepcopy`, which keeps a memo of every part:
    a document's parts are dicts, lists and immutable scalars, none of them shared."""
    if isinstance(value, dict):
        return {k: v if isinstance(v, _IMMUTABLE) else clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if isinstance(v, _IMMUTABLE) else clone(v) for v in value]
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, tuple):
        return tuple(clone(v) for v in value)
    return copy.deepcopy(value)


class BaseUnitOfWork:
    """Identity map + outbox buffer shared by the MongoDB and in-memory implementations."""

    def __init__(
        self, service: str, settings: Any = None, *, contract: Contract | None = None
    ) -> None:
        self.service = service
        self._settings = settings
        self.contract = contract
        self._loaded: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._dirty: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[PendingEvent] = []
        self.after_commit: list[Callable[[], None]] = []
        self.current: CloudEvent | None = None

    async def _load(self, collection: str, key: str) -> dict[str, Any] | None:
        raise NotImplementedError

    async def get(self, collection: str, key: str, *, copy: bool = True) -> dict[str, Any] | None:
        """The document as this batch sees it (its own writes included), or None. A copy, which
        the handler may change; `copy=False` returns the stored dict itself, for a handler that
        only reads it (and saves a copy on every event)."""
        k = (collection, key)
        if k in self._dirty:
            dirty: dict[str, Any] = self._dirty[k]
            return clone(dirty) if copy else dirty
        if k not in self._loaded:
            self._loaded[k] = await self._load(collection, key)
        doc = self._loaded[k]
        loaded: dict[str, Any] | None = clone(doc) if copy and doc is not None else doc
        return loaded

    def put(self, collection: str, key: str, doc: dict[str, Any]) -> None:
        d = dict(doc)
        d["_id"] = key
        self._dirty[(collection, key)] = d

    def emit(
        self,
        type: str,
        data: BaseModel | dict[str, Any],
        *,
        key: str,
        time: datetime | None = None,
        correlationid: str | None = None,
    ) -> CloudEvent:
        """Add an event to this batch's outbox. It must keep the service's published contract
        (its model, and the envelope's bounds): OutgoingEventInvalid otherwise, a permanent
        failure of the message being handled, so nothing of it is committed."""
        cur = self.current
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json", exclude_none=True)
        if self.contract is not None:
            check_outgoing(self.service, self.contract, type, data)
        try:
            ev = build(
                type,
                data,
                source=f"{self.service}/{INSTANCE}",
                time=time or now(),
                correlationid=correlationid or (cur.correlationid if cur else None),
                causationid=cur.id if cur else None,
            )
            body = ev.to_json_bytes()
        except (ValidationError, ValueError, TypeError) as e:
            why = short_errors(e) if isinstance(e, ValidationError) else str(e)
            raise OutgoingEventInvalid(
                f"{self.service} emitted a {type!r} event its envelope cannot carry: {why}"
            ) from e
        self.events.append(
            PendingEvent(
                f"{self.service}.events", key, ev, body, validated=self.contract is not None
            )
        )
        return ev

    @property
    def settings(self) -> Any:
        """The service's settings instance (mapping overrides, secrets, policies)."""
        return self._settings

    def on_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` (e.g. a metric increment) only once the batch has committed."""
        self.after_commit.append(fn)

    def dirty_items(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(c, k, d) for (c, k), d in self._dirty.items()]

    def known_absent(self, collection: str, key: str) -> bool:
        """Read in this unit of work and not found: the write can be an insert."""
        k = (collection, key)
        return k in self._loaded and self._loaded[k] is None


class InMemoryUnitOfWork(BaseUnitOfWork):
    """For unit tests: a dict-backed store with the same semantics; `commit()` applies writes."""

    def __init__(
        self,
        service: str,
        store: dict[str, dict[str, dict[str, Any]]] | None = None,
        settings: Any = None,
        *,
        contract: Contract | None = None,
    ) -> None:
        super().__init__(service, settings, contract=contract)
        self.store: dict[str, dict[str, dict[str, Any]]] = store if store is not None else {}
        self.published: list[PendingEvent] = []

    async def _load(self, collection: str, key: str) -> dict[str, Any] | None:
        doc = self.store.get(collection, {}).get(key)
        return clone(doc) if doc is not None else None

    def commit(self) -> None:
        for c, k, d in self.dirty_items():
            self.store.setdefault(c, {})[k] = clone(d)
        self.published.extend(self.events)
        for fn in self.after_commit:
            fn()
        self.after_commit = []
        self._loaded.clear()
        self._dirty.clear()
        self.events = []
