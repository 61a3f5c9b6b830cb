"""In-memory fakes: messages as the runtime delivers them, a database, an API context."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel

from carrier_tracking.main import SERVICE
from carrier_tracking.settings import CarrierTrackingSettings
from shared.envelope import CloudEvent, build
from shared.service import ApiContext, Incoming
from shared.uow import InMemoryUnitOfWork, PendingEvent

T0 = datetime(2026, 11, 27, 8, tzinfo=UTC)

SECRETS = {"ups": "ups-secret", "fedex": "fedex-secret", "dhl": "dhl-secret"}
SECRETS |= {"usps": "usps-secret", "generic": "generic-secret", "ontrac": "ontrac-secret"}


def incoming(model: type[BaseModel], ev: CloudEvent, exchange: str) -> Incoming[Any]:
    """What a handler sees for `ev`, validated as the runtime would."""
    return Incoming(
        envelope=ev,
        data=model.model_validate(ev.data),
        exchange=exchange,
        routing_key=ev.type,
        received_at=datetime.now(UTC),
    )


def event(type_: str, data: dict[str, Any], *, source: str, id: str, time: datetime) -> CloudEvent:
    return build(type_, data, source=source, id=id, time=time, correlationid=data.get("order_id"))


class FakeCollection:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs

    async def find_one(self, flt: dict[str, Any]) -> dict[str, Any] | None:
        doc = self.docs.get(flt["_id"])
        return copy.deepcopy(doc) if doc is not None else None


class FakeDb:
    """Reads the dict an InMemoryUnitOfWork commits into, as the API reads MongoDB."""

    def __init__(self, store: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.store = store

    def __getitem__(self, name: str) -> FakeCollection:
        return FakeCollection(self.store.setdefault(name, {}))


class Publisher:
    """Records confirmed publishes; `fail` makes the broker refuse."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, CloudEvent]] = []
        self.fail = False

    async def __call__(self, exchange: str, ev: CloudEvent) -> None:
        if self.fail:
            raise ConnectionError("broker unavailable")
        self.sent.append((exchange, ev))


class Runtime:
    """Delivers events to the service's handlers the way the shared runtime does, one commit each."""

    def __init__(self, store: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.store = store
        self.published: list[PendingEvent] = []

    async def deliver(self, ev: CloudEvent, exchange: str = "carrier.events") -> InMemoryUnitOfWork:
        route = SERVICE.route_for(ev.type)
        assert route is not None, ev.type
        assert exchange in route.exchanges
        uow = InMemoryUnitOfWork("carrier-tracking", self.store)
        uow.current = ev
        await route.handler(incoming(route.model, ev, exchange), uow)
        uow.commit()
        self.published += uow.published
        return uow

    async def shipped(self, tn: str, hour: float = 0, **kw: Any) -> InMemoryUnitOfWork:
        data = {
            "shipment_id": "SHP-1",
            "order_id": "ORD-1",
            "location": "DC-EAST",
            "carrier": "ups",
            "tracking_number": tn,
            "lines": [{"line_id": "1", "sku": "SKU-1", "qty": 2}],
        } | kw
        ev = event(
            "shipment.shipped",
            data,
            source="wms/dc-east",
            id=f"shp-{tn}-{hour}",
            time=T0 + timedelta(hours=hour),
        )
        return await self.deliver(ev, "wms.events")

    async def scan(
        self, tn: str, code: str, hour: float, carrier: str = "ups", id: str | None = None
    ) -> InMemoryUnitOfWork:
        data = {"carrier": carrier, "tracking_number": tn, "native_code": code}
        ev = event(
            "tracking.reported",
            data,
            source=f"carrier/{carrier}",
            id=id or f"{tn}-{code}-{hour}",
            time=T0 + timedelta(hours=hour),
        )
        return await self.deliver(ev)


@pytest.fixture
def runtime(store: dict[str, dict[str, dict[str, Any]]]) -> Runtime:
    return Runtime(store)


@pytest.fixture
def store() -> dict[str, dict[str, dict[str, Any]]]:
    return {}


@pytest.fixture
def publisher() -> Publisher:
    return Publisher()


@pytest.fixture
def api_ctx(store: dict[str, dict[str, dict[str, Any]]], publisher: Publisher) -> ApiContext:
    settings = CarrierTrackingSettings(carrier_tracking_webhook_secrets=SECRETS)
    return ApiContext(
        service="carrier-tracking", db=FakeDb(store), settings=settings, publish=publisher
    )


@pytest.fixture
def metric() -> Callable[..., float]:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return value


def replay_push(carrier: str, events: list[CloudEvent]) -> Any:
    """The tracking state the consumer ends with after these webhook events, in any order."""
    from carrier_tracking.domain.tracking import Scan, Tracking, record_scan

    state = Tracking(tracking_number=events[0].data["tracking_number"])
    for ev in events:
        d = ev.data
        scan = Scan(
            carrier=carrier,
            native_code=d["native_code"],
            native_type=d.get("native_type"),
            description=d.get("description"),
            location=d.get("location"),
            time=ev.time,
            event_id=ev.id,
        )
        state, _ = record_scan(state, scan)
    return state


@pytest.fixture
def replay() -> Callable[[str, list[CloudEvent]], Any]:
    return replay_push


@pytest.fixture
def serve() -> Callable[[ApiContext], Any]:
    """A test client for the app the runtime serves: shared errors, body limit, the router."""
    from fastapi.testclient import TestClient

    from carrier_tracking.api import build_router
    from shared.http import create_app

    async def ready() -> dict[str, str]:
        return {}

    def client(ctx: ApiContext) -> TestClient:
        app = create_app("carrier-tracking", ready)
        app.include_router(build_router(ctx))
        return TestClient(app)

    return client
