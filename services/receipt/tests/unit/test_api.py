"""HTTP read API over an in-memory stand-in for the service's MongoDB database."""

from __future__ import annotations

from typing import Any

import bson
import pytest
from httpx import ASGITransport, AsyncClient

from receipt import store
from receipt.api import build_router
from receipt.settings import ReceiptSettings
from shared.http import create_app
from shared.service import ApiContext


class FakeCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def sort(self, keys: list[tuple[str, int]]) -> FakeCursor:
        for field, direction in reversed(keys):
            self.docs.sort(key=lambda d, f=field: d.get(f), reverse=direction < 0)
        return self

    def limit(self, n: int) -> FakeCursor:
        self.docs = self.docs[:n]
        return self

    async def to_list(self, length: int | None) -> list[dict[str, Any]]:
        return self.docs


def _matches(doc: dict[str, Any], flt: dict[str, Any]) -> bool:
    for k, cond in flt.items():
        v = doc.get(k)
        if isinstance(cond, dict):
            if "$gte" in cond and not (v is not None and v >= cond["$gte"]):
                return False
        elif v != cond:
            return False
    return True


class FakeCollection:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs
        self.indexes: list[Any] = []

    async def find_one(self, flt: dict[str, Any]) -> dict[str, Any] | None:
        bson.encode(flt)  # what MongoDB could not be sent fails here as it would there
        return next((d for d in self.docs.values() if _matches(d, flt)), None)

    def find(self, flt: dict[str, Any]) -> FakeCursor:
        bson.encode(flt)
        return FakeCursor([d for d in self.docs.values() if _matches(d, flt)])

    async def create_index(self, keys: Any, **kw: Any) -> str:
        self.indexes.append(keys)
        return str(kw.get("name"))


class FakeDb:
    def __init__(self, data: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.data = data
        self.collections: dict[str, FakeCollection] = {}

    def __getitem__(self, name: str) -> FakeCollection:
        if name not in self.collections:
            self.collections[name] = FakeCollection(self.data.setdefault(name, {}))
        return self.collections[name]


@pytest.fixture
async def client(svc) -> AsyncClient:
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10, lot_tracked=True)], time=svc.at(1))
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 12, lot="L1", qty_damaged=1)], time=svc.at(2))
    await svc.receive("R-9", None, [svc.rl("SKU-Q", 1)], time=svc.at(3))
    await svc.receive("R-5", "PO-2", [svc.rl("SKU-B", 1)], time=svc.at(4))
    ctx = ApiContext("receipt", FakeDb(svc.store), ReceiptSettings(), publish=None)  # type: ignore[arg-type]

    async def ready() -> dict[str, str]:
        return {}

    app = create_app("receipt", ready)
    app.include_router(build_router(ctx))
    return AsyncClient(transport=ASGITransport(app=app), base_url="http://receipt")


async def test_purchase_order_shows_lines_receipts_and_exceptions(client):
    body = (await client.get("/v1/purchase-orders/PO-1")).json()

    assert body["status"] == "received"
    [line] = body["lines"]
    assert {k: line[k] for k in ("ordered", "expected", "received", "accepted", "quarantined")} == {
        "ordered": 10.0,
        "expected": 0.0,
        "received": 12.0,
        "accepted": 10.0,
        "quarantined": 2.0,
    }
    assert line["lots"] == [{"lot": "L1", "qty": 12.0}]
    assert [r["receipt_id"] for r in body["receipts"]] == ["R-1"]
    assert sorted(e["kind"] for e in body["exceptions"]) == ["damaged", "over_receipt"]


async def test_purchase_order_not_released_yet_shows_its_held_receipts(client):
    body = (await client.get("/v1/purchase-orders/PO-2")).json()

    assert (body["status"], body["released"]) == ("awaiting_release", False)
    assert [r["receipt_id"] for r in body["held_receipts"]] == ["R-5"]


async def test_unknown_purchase_order_is_404(client):
    resp = await client.get("/v1/purchase-orders/NOPE")

    assert resp.status_code == 404
    assert "NOPE" in resp.json()["detail"]


async def test_exceptions_are_filtered_by_kind_and_since_newest_first(client):
    all_ = (await client.get("/v1/receipt-exceptions")).json()["exceptions"]
    assert all_[0]["kind"] == "unexpected_item"  # R-9 is the newest
    assert len(all_) == 3

    only = (await client.get("/v1/receipt-exceptions", params={"kind": "damaged"})).json()[
        "exceptions"
    ]
    assert [(e["kind"], e["qty"], e["po_id"]) for e in only] == [("damaged", 1.0, "PO-1")]

    resp = await client.get(
        "/v1/receipt-exceptions", params={"since": "2026-11-27T10:30:00Z", "limit": 5}
    )
    since = resp.json()["exceptions"]
    assert [e["receipt_id"] for e in since] == ["R-9"]


async def test_unknown_exception_kind_is_422(client):
    resp = await client.get("/v1/receipt-exceptions", params={"kind": "lost"})

    assert resp.status_code == 422
    assert "unknown kind 'lost'" in resp.json()["detail"]


async def test_setup_store_indexes_the_exceptions_collection():
    db = FakeDb({})
    await store.setup_store(db)

    names = {c: [i for i in coll.indexes] for c, coll in db.collections.items()}
    assert [("kind", 1), ("at", -1)] in names["receipt_exceptions"]
    assert [("po_id", 1), ("at", 1)] in names["receipt_exceptions"]


@pytest.mark.parametrize("since", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
async def test_exceptions_since_a_time_off_the_calendar_in_utc_is_422_not_500(client, since):
    resp = await client.get("/v1/receipt-exceptions", params={"since": since})

    assert resp.status_code == 422, resp.text
    assert "outside years 0001-9999" in resp.json()["detail"]


async def test_a_po_id_with_a_slash_is_read_percent_encoded(svc, client):
    await svc.release("PO/2026/7", [svc.pl("1", "SKU-A", 1)], time=svc.at(5))

    resp = await client.get("/v1/purchase-orders/PO%2F2026%2F7")

    assert resp.status_code == 200, resp.text
    assert resp.json()["po_id"] == "PO/2026/7"
    assert (await client.get("/v1/purchase-orders/PO/2026/7")).status_code == 404
