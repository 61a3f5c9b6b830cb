"""The read API over an in-memory stand-in for the MongoDB collections it queries."""

from __future__ import annotations

import base64
import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import bson
import httpx
import pytest

from order_status import store
from order_status.api import build_router
from order_status.domain.mappings import DEFAULTS
from order_status.domain.order import record
from shared.http import create_app
from shared.service import ApiContext
from shared.settings import ServiceSettings


def matches(doc: dict[str, Any], flt: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        if key == "$and":
            if not all(matches(doc, c) for c in cond):
                return False
        elif key == "$or":
            if not any(matches(doc, c) for c in cond):
                return False
        elif isinstance(cond, dict):
            v = doc.get(key)
            for op, arg in cond.items():
                ok = {"$gt": v is not None and v > arg, "$gte": v is not None and v >= arg}[op]
                if not ok:
                    return False
        elif doc.get(key) != cond:
            return False
    return True


def project(doc: dict[str, Any], proj: dict[str, int] | None) -> dict[str, Any]:
    if not proj:
        return copy.deepcopy(doc)
    if all(v == 0 for v in proj.values()):
        return {k: copy.deepcopy(v) for k, v in doc.items() if k not in proj}
    return {k: copy.deepcopy(v) for k, v in doc.items() if k in proj or k == "_id"}


class FakeCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def sort(self, keys: list[tuple[str, int]]) -> FakeCursor:
        for k, direction in reversed(keys):
            self.docs.sort(key=lambda d, k=k: d[k], reverse=direction < 0)
        return self

    def limit(self, n: int) -> FakeCursor:
        self.docs = self.docs[:n]
        return self

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        for d in self.docs:
            yield d


class FakeCollection:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs

    async def find_one(self, flt: dict[str, Any], proj: Any = None) -> dict[str, Any] | None:
        bson.encode(flt)  # what MongoDB could not be sent fails here as it would there
        return next((project(d, proj) for d in self.docs.values() if matches(d, flt)), None)

    def find(self, flt: dict[str, Any], proj: Any = None) -> FakeCursor:
        bson.encode(flt)
        return FakeCursor([project(d, proj) for d in self.docs.values() if matches(d, flt)])

    async def count_documents(self, flt: dict[str, Any]) -> int:
        return sum(1 for d in self.docs.values() if matches(d, flt))


class FakeDb:
    def __init__(self) -> None:
        self.collections: dict[str, dict[str, dict[str, Any]]] = {}

    def __getitem__(self, name: str) -> FakeCollection:
        return FakeCollection(self.collections.setdefault(name, {}))


async def _publish(exchange: str, event: Any) -> None:
    raise AssertionError("the read API publishes nothing")


@pytest.fixture()
def db(kit: Any) -> FakeDb:
    """Five orders: three delivered, one shipped, one in exception; updated a minute apart."""
    fake = FakeDb()
    for n in range(5):
        h = kit.History(f"ORD-{n}")
        facts = kit.happy(h)
        if n == 3:
            facts = facts[:6]
        if n == 4:
            facts = [*facts[:6], h.scan(100, "exception", reason="damaged")]
        order, _ = record(None, h.order_id, facts, DEFAULTS)
        doc = store.order_to_doc(order, updated_at=kit.t(10_000 + n))
        fake.collections.setdefault(store.ORDERS, {})[h.order_id] = {"_id": h.order_id, **doc}
    return fake


@pytest.fixture()
async def client(db: FakeDb) -> AsyncIterator[httpx.AsyncClient]:
    ctx = ApiContext(service="order-status", db=db, settings=ServiceSettings(), publish=_publish)

    async def ready() -> dict[str, str]:
        return {}

    app = create_app("order-status", ready)
    app.include_router(build_router(ctx))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://order-status") as c:
        yield c


async def test_get_order_returns_status_lines_shipments_and_full_timeline(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/v1/orders/ORD-0")).json()
    assert body["status"] == "delivered"
    assert [ln["line_id"] for ln in body["lines"]] == ["L1", "L2"]
    assert body["shipments"][0]["tracking_number"] == "1Z1"
    assert body["shipments"][0]["milestone"] == "delivered"
    assert len(body["timeline"]) == 9
    first = body["timeline"][0]
    assert first["at"] and first["received_at"] and first["type"] == "order.created"
    assert "facts" not in body and "_id" not in body


async def test_get_unknown_order_is_404_with_a_message(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/orders/NOPE")
    assert r.status_code == 404
    assert "NOPE" in r.json()["detail"]


async def test_list_orders_by_status(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/orders", params={"status": "exception"})).json()
    assert [(o["order_id"], o["reason"]) for o in body["items"]] == [("ORD-4", "damaged")]
    assert body["next_cursor"] is None


async def test_list_orders_pages_with_a_cursor_until_the_last_page(
    client: httpx.AsyncClient,
) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"status": "delivered", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/v1/orders", params=params)).json()
        seen += [o["order_id"] for o in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["ORD-0", "ORD-1", "ORD-2"]


async def test_list_orders_since_keeps_orders_updated_at_or_after_it(
    kit: Any, client: httpx.AsyncClient
) -> None:
    since = (kit.t(10_000) + timedelta(minutes=3)).isoformat()
    body = (await client.get("/v1/orders", params={"since": since})).json()
    assert [o["order_id"] for o in body["items"]] == ["ORD-3", "ORD-4"]


async def test_list_orders_with_unknown_status_is_422_with_a_message(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/v1/orders", params={"status": "lost_in_space"})
    assert r.status_code == 422
    assert "lost_in_space" in r.json()["detail"]


async def test_list_orders_with_a_cursor_it_did_not_hand_out_is_422(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/v1/orders", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422
    assert "cursor" in r.json()["detail"]


async def test_list_orders_with_since_without_time_zone_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/orders", params={"since": "2026-11-27T10:00:00"})
    assert r.status_code == 422


@pytest.mark.parametrize("since", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
async def test_list_orders_since_a_time_off_the_calendar_in_utc_is_422_not_500(
    client: httpx.AsyncClient, since: str
) -> None:
    r = await client.get("/v1/orders", params={"since": since})
    assert r.status_code == 422, r.text
    assert "outside years 0001-9999" in r.json()["detail"]
    assert r.json()["errors"][0]["loc"] == ["query", "since"]


async def test_list_orders_with_a_forged_cursor_off_the_calendar_is_422(
    client: httpx.AsyncClient,
) -> None:
    forged = base64.urlsafe_b64encode(b"9999-12-31T23:00:00-05:00|ORD-0").decode()
    r = await client.get("/v1/orders", params={"cursor": forged})
    assert r.status_code == 422, r.text
    assert "cursor" in r.json()["detail"]


async def test_an_order_id_with_a_slash_is_read_percent_encoded(
    db: FakeDb, client: httpx.AsyncClient
) -> None:
    orders = db.collections[store.ORDERS]
    orders["ORD/2026/7"] = {**orders["ORD-0"], "_id": "ORD/2026/7", "order_id": "ORD/2026/7"}
    r = await client.get("/v1/orders/ORD%2F2026%2F7")
    assert r.status_code == 200, r.text
    assert r.json()["order_id"] == "ORD/2026/7"
    assert (await client.get("/v1/orders/ORD/2026/7")).status_code == 404
