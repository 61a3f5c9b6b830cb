"""In-memory fakes for the returns service: a harness that delivers events like the runtime."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from returns.domain.state import Rma
from returns.main import SERVICE
from returns.settings import ReturnsSettings
from returns.store import PENDING, RMAS, pending_key, rma_from_doc
from returns.sweep import run_once
from shared.envelope import CloudEvent, build
from shared.service import Incoming, TaskContext
from shared.uow import InMemoryUnitOfWork

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
EXCHANGE = {"return.authorized": "erp.events"}
SOURCE = {"return.authorized": "erp/main"}


def _match(doc: dict[str, Any], flt: dict[str, Any]) -> bool:
    for field, cond in flt.items():
        value = doc.get(field)
        if isinstance(cond, dict):
            if "$in" in cond and value not in cond["$in"]:
                return False
            if "$lte" in cond and (value is None or not value <= cond["$lte"]):
                return False
        elif value != cond:
            return False
    return True


class FakeCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def sort(self, field: str, direction: int) -> FakeCursor:
        self.docs.sort(key=lambda d: d[field], reverse=direction < 0)
        return self

    def limit(self, n: int) -> FakeCursor:
        self.docs = self.docs[:n]
        return self

    def __aiter__(self) -> Any:
        async def gen() -> Any:
            for d in self.docs:
                yield d

        return gen()


class FakeCollection:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs

    def find(self, flt: dict[str, Any], projection: Any = None) -> FakeCursor:
        return FakeCursor([dict(d) for d in self.docs.values() if _match(d, flt)])

    async def find_one(self, flt: dict[str, Any]) -> dict[str, Any] | None:
        return next((dict(d) for d in self.docs.values() if _match(d, flt)), None)


class FakeDb:
    """Just enough of pymongo's AsyncDatabase for the store's read queries."""

    def __init__(self, store: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.store = store

    def __getitem__(self, name: str) -> FakeCollection:
        return FakeCollection(self.store.setdefault(name, {}))


class Harness:
    """Delivers validated events through the service's routes into one in-memory database."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.published: list[CloudEvent] = []
        self.settings = ReturnsSettings()
        self.arrival = T0
        self._ids = itertools.count(1)

    async def send(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        at: datetime | None = None,
        id: str | None = None,
        source: str | None = None,
    ) -> list[CloudEvent]:
        route = SERVICE.route_for(type_)
        assert route is not None
        self.arrival += timedelta(seconds=1)
        env = build(
            type_,
            data,
            source=source or SOURCE.get(type_, "wms/dc-east"),
            id=id or f"ev-{next(self._ids)}",
            time=at or self.arrival,
            correlationid=data.get("rma_id"),
        )
        msg = Incoming(
            envelope=env,
            data=route.model.model_validate(data),
            exchange=EXCHANGE.get(type_, "wms.events"),
            routing_key=type_,
            received_at=self.arrival,
        )
        uow = InMemoryUnitOfWork("returns", self.store, settings=self.settings)
        uow.current = env
        await route.handler(msg, uow)
        return self._commit(uow)

    def _commit(self, uow: InMemoryUnitOfWork) -> list[CloudEvent]:
        uow.commit()
        out = [p.event for p in uow.published]
        self.published.extend(out)
        return out

    def task_context(self) -> TaskContext:
        async def run_in_transaction(fn: Any) -> None:
            uow = InMemoryUnitOfWork("returns", self.store, settings=self.settings)
            await fn(uow)
            self._commit(uow)

        return TaskContext(
            service="returns",
            db=FakeDb(self.store),
            settings=self.settings,
            run_in_transaction=run_in_transaction,
        )

    async def sweep(self, now: datetime) -> int:
        return await run_once(self.task_context(), now)

    def rma(self, rma_id: str) -> Rma:
        rma = rma_from_doc(self.store.get(RMAS, {}).get(rma_id))
        assert rma is not None
        return rma

    def pending(self, sku: str, location: str) -> float:
        doc = self.store.get(PENDING, {}).get(pending_key(sku, location))
        return float(doc["total"]) if doc else 0.0

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e.data for e in self.published if e.type == type_]

    def statuses(self, rma_id: str) -> list[str]:
        return [d["status"] for d in self.of_type("return.status_changed") if d["rma_id"] == rma_id]


def authorized(
    rma_id: str = "RMA-1",
    lines: list[tuple[str, float]] | None = None,
    *,
    location: str = "DC-EAST",
    expires_at: datetime | None = None,
    order_id: str = "ORD-1",
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rma_id": rma_id,
        "order_id": order_id,
        "location": location,
        "lines": [
            {"line_id": str(i + 1), "sku": sku, "qty": qty, "reason": "damaged"}
            for i, (sku, qty) in enumerate(lines if lines is not None else [("SKU-1", 5)])
        ],
    }
    if expires_at is not None:
        data["expires_at"] = expires_at.isoformat()
    return data


def received(
    rma_id: str = "RMA-1", lines: list[tuple[str, float]] | None = None, location: str = "DC-EAST"
) -> dict[str, Any]:
    return {
        "rma_id": rma_id,
        "location": location,
        "lines": [{"sku": s, "qty": q} for s, q in (lines or [("SKU-1", 5)])],
    }


def inspected(
    rma_id: str = "RMA-1",
    lines: list[tuple[str, float, str]] | None = None,
    location: str = "DC-EAST",
) -> dict[str, Any]:
    return {
        "rma_id": rma_id,
        "location": location,
        "lines": [
            {"sku": s, "qty": q, "disposition": d}
            for s, q, d in (lines or [("SKU-1", 5, "restock")])
        ],
    }


@pytest.fixture
def h() -> Harness:
    return Harness()


@pytest.fixture(scope="session")
def harness_factory() -> type[Harness]:
    """For property tests, which need a fresh harness per example."""
    return Harness


@pytest.fixture(scope="session")
def ev() -> SimpleNamespace:
    """Builders for event payloads: ev.authorized(...), ev.received(...), ev.inspected(...)."""
    return SimpleNamespace(authorized=authorized, received=received, inspected=inspected, T0=T0)
