"""In-memory harness: delivers CloudEvents to the availability handlers like the runtime does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from availability.main import SERVICE
from availability.store import POSITIONS, position_key
from shared.envelope import CloudEvent, build
from shared.service import Incoming
from shared.uow import InMemoryUnitOfWork

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

SOURCES = {
    "erp.events": "erp/test",
    "wms.events": "wms/test",
    "receipt.events": "distsync/receipt",
    "returns.events": "distsync/returns",
}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Harness:
    """The runtime in miniature: inbox by event id, one unit of work per message, commit."""

    def __init__(self, settings: Any = None) -> None:
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.settings = settings
        self.seen: set[str] = set()
        self.published: list[CloudEvent] = []
        self._n = 0

    def event(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        minutes: float = 0,
        id: str | None = None,
        correlationid: str | None = None,
    ) -> CloudEvent:
        self._n += 1
        route = SERVICE.route_for(type_)
        assert route is not None, type_
        return build(
            type_,
            data,
            source=SOURCES[route.exchanges[0]],
            id=id or f"ev-{self._n}",
            time=at(minutes),
            correlationid=correlationid,
        )

    async def deliver(
        self, ev: CloudEvent, *, received_at: datetime | None = None
    ) -> list[CloudEvent]:
        """Handle one message; a duplicate id is a no-op, an exception commits nothing."""
        if ev.id in self.seen:
            return []
        route = SERVICE.route_for(ev.type)
        assert route is not None
        data = route.model.model_validate(ev.data)
        uow = InMemoryUnitOfWork("availability", self.store, self.settings)
        uow.current = ev
        msg = Incoming(ev, data, route.exchanges[0], ev.type, received_at=received_at or ev.time)
        await route.handler(msg, uow)
        uow.commit()
        self.seen.add(ev.id)
        out = [p.event for p in uow.published]
        self.published.extend(out)
        return out

    async def send(self, type_: str, data: dict[str, Any], **kw: Any) -> list[CloudEvent]:
        return await self.deliver(self.event(type_, data, **kw))

    def doc(self, sku: str, location: str) -> dict[str, Any] | None:
        return self.store.get(POSITIONS, {}).get(position_key(sku, location))

    def pos(self, sku: str, location: str) -> dict[str, Any]:
        """The public numbers of a position (all zero when it does not exist)."""
        d = self.doc(sku, location) or {}
        fields = (
            "on_hand",
            "allocated",
            "quarantined",
            "in_transit",
            "inbound",
            "returns_pending",
            "safety_stock",
            "available_to_sell",
            "available_to_promise",
        )
        return {f: d.get(f, 0.0) for f in fields}


def of_type(events: list[CloudEvent], type_: str) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == type_]


@pytest.fixture
def h() -> Harness:
    return Harness()


@pytest.fixture
def harness() -> type[Harness]:
    return Harness


@pytest.fixture
def changed() -> Callable[[list[CloudEvent]], list[dict[str, Any]]]:
    return lambda events: of_type(events, "availability.changed")


@pytest.fixture
def variances() -> Callable[[list[CloudEvent]], list[dict[str, Any]]]:
    return lambda events: of_type(events, "availability.variance_detected")
