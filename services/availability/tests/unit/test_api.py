"""The HTTP read API over positions written by the handlers, with an in-memory database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from availability.api import build_router
from availability.settings import AvailabilitySettings
from shared.http import create_app
from shared.service import ApiContext

CHECK_MAX_BYTES = AvailabilitySettings.model_fields["availability_check_max_bytes"].default


def _matches(doc: dict[str, Any], flt: dict[str, Any]) -> bool:
    for k, v in flt.items():
        if isinstance(v, dict) and "$in" in v:
            if doc.get(k) not in v["$in"]:
                return False
        elif doc.get(k) != v:
            return False
    return True


class FakeCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def sort(self, keys: list[tuple[str, int]]) -> FakeCursor:
        for k, direction in reversed(keys):
            self.docs.sort(key=lambda d, k=k: d.get(k), reverse=direction < 0)
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        return list(self.docs)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        async def gen() -> AsyncIterator[dict[str, Any]]:
            for d in self.docs:
                yield d

        return gen()


class FakeCollection:
    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.docs = docs

    def find(self, flt: dict[str, Any], projection: Any = None) -> FakeCursor:
        return FakeCursor([d for d in self.docs.values() if _matches(d, flt)])

    async def find_one(self, flt: dict[str, Any]) -> dict[str, Any] | None:
        return next((d for d in self.docs.values() if _matches(d, flt)), None)


class FakeDb:
    def __init__(self, store: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.store = store

    def __getitem__(self, name: str) -> FakeCollection:
        return FakeCollection(self.store.setdefault(name, {}))


@pytest.fixture
async def client(h) -> AsyncIterator[httpx.AsyncClient]:
    await h.send("item.updated", {"sku": "SKU-1", "base_uom": "EA", "uom_conversions": {"CS": 12}})
    for location, qty in (("A", 30), ("B", 10)):
        data = {"location": location, "sku": "SKU-1", "qty_delta": qty, "reason_code": "X"}
        await h.send("inventory.adjusted", data, minutes=1)
    line = {"sku": "SKU-1", "location": "A", "qty": 5}
    await h.send("order.allocated", {"lines": [line]}, minutes=2)
    await h.send("inbound.changed", {"sku": "SKU-1", "location": "B", "inbound_qty": 4}, minutes=3)

    async def ready() -> dict[str, str]:
        return {}

    async def publish(exchange: str, event: Any) -> None:
        return None

    ctx = ApiContext("availability", FakeDb(h.store), AvailabilitySettings(), publish)
    app = create_app("availability", ready)
    app.include_router(build_router(ctx))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://availability") as c:
        yield c


async def check(client: httpx.AsyncClient, lines: list[dict[str, Any]]) -> dict[str, Any]:
    r = await client.post("/v1/availability/check", json={"lines": lines})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_sku_answers_every_location_and_a_total(client) -> None:
    r = await client.get("/v1/availability/SKU-1")
    assert r.status_code == 200
    body = r.json()
    assert body["base_uom"] == "EA"
    assert [(p["location"], p["available_to_sell"]) for p in body["locations"]] == [
        ("A", 25.0),
        ("B", 10.0),
    ]
    total = body["total"]
    assert (total["on_hand"], total["allocated"], total["inbound"]) == (40.0, 5.0, 4.0)
    assert (total["available_to_sell"], total["available_to_promise"], total["locations"]) == (
        35.0,
        39.0,
        2,
    )


async def test_an_unknown_sku_is_a_404_with_a_message(client) -> None:
    r = await client.get("/v1/availability/NOPE")
    assert r.status_code == 404
    assert r.json()["detail"] == "unknown SKU NOPE: no stock position or item record"


async def test_one_position_has_the_fields_of_availability_changed(client) -> None:
    r = await client.get("/v1/availability/SKU-1/A")
    assert r.status_code == 200
    assert set(r.json()) == {
        "sku",
        "location",
        "on_hand",
        "allocated",
        "quarantined",
        "in_transit",
        "inbound",
        "returns_pending",
        "safety_stock",
        "available_to_sell",
        "available_to_promise",
        "version",
        "as_of",
    }
    assert r.json()["version"] == 2


async def test_a_missing_position_is_a_404_with_a_message(client) -> None:
    r = await client.get("/v1/availability/SKU-1/Z")
    assert r.status_code == 404 and r.json()["detail"] == "no stock position for SKU-1 at Z"


async def test_check_promises_from_the_best_location_in_base_units(client) -> None:
    r = await client.post(
        "/v1/availability/check", json={"lines": [{"sku": "SKU-1", "qty": 2, "uom": "CS"}]}
    )
    assert r.status_code == 200
    [line] = r.json()["lines"]
    assert (line["promisable"], line["location"], line["qty_base"]) == (True, "A", 24.0)
    assert r.json()["promisable"] is True


async def test_check_at_a_given_location_says_how_much_is_available_when_it_cannot(client) -> None:
    r = await client.post(
        "/v1/availability/check", json={"lines": [{"sku": "SKU-1", "qty": 11, "location": "B"}]}
    )
    [line] = r.json()["lines"]
    assert (line["promisable"], line["location"], line["available_to_sell"]) == (False, "B", 10.0)
    assert line["reason"] == "only 10 available to sell at B"
    assert r.json()["promisable"] is False


async def test_check_lines_of_one_order_do_not_count_on_the_same_units_twice(client) -> None:
    lines = [
        {"line_id": "1", "sku": "SKU-1", "qty": 20},
        {"line_id": "2", "sku": "SKU-1", "qty": 20},
    ]
    body = await check(client, lines)
    assert [(ln["line_id"], ln["promisable"], ln["location"]) for ln in body["lines"]] == [
        ("1", True, "A"),
        ("2", False, "B"),
    ]


async def test_check_line_in_an_unknown_unit_is_not_promisable_with_a_reason(client) -> None:
    body = await check(client, [{"sku": "SKU-1", "qty": 1, "uom": "PAL"}])
    [line] = body["lines"]
    assert line["promisable"] is False
    assert line["reason"] == "no conversion from PAL to base unit for SKU-1"


async def test_check_line_for_an_unknown_sku_is_not_promisable(client) -> None:
    body = await check(client, [{"sku": "NOPE", "qty": 1}])
    assert body["lines"][0]["reason"] == "unknown SKU NOPE"


@pytest.mark.parametrize(
    "body",
    [{}, {"lines": []}, {"lines": [{"sku": "SKU-1", "qty": 0}]}, {"lines": [{"qty": 1}]}],
)
async def test_a_bad_check_body_is_a_422_with_a_message(client, body) -> None:
    r = await client.post("/v1/availability/check", json=body)
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], str) and r.json()["detail"]


async def test_a_sku_and_location_with_slashes_are_read_percent_encoded(h, client) -> None:
    data = {"location": "DC/1", "sku": "AB/12/C", "qty_delta": 3, "reason_code": "X"}
    await h.send("inventory.adjusted", data, minutes=4)

    r = await client.get("/v1/availability/AB%2F12%2FC")
    assert r.status_code == 200, r.text
    assert (r.json()["sku"], r.json()["total"]["on_hand"]) == ("AB/12/C", 3.0)
    r = await client.get("/v1/availability/AB%2F12%2FC/DC%2F1")
    assert r.status_code == 200, r.text
    assert (r.json()["sku"], r.json()["location"]) == ("AB/12/C", "DC/1")
    r = await client.get("/v1/availability/AB/12")
    assert r.status_code == 404 and r.json()["detail"] == "no stock position for AB at 12"


async def test_a_literal_percent_in_a_sku_is_sent_as_percent_25(h, client) -> None:
    data = {"location": "A", "sku": "50%2F", "qty_delta": 1, "reason_code": "X"}
    await h.send("inventory.adjusted", data, minutes=4)

    r = await client.get("/v1/availability/50%252F")
    assert r.status_code == 200 and r.json()["sku"] == "50%2F"


async def test_a_check_body_nested_10000_levels_deep_is_a_400_with_a_message(client) -> None:
    deep = b'{"lines": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    r = await client.post(
        "/v1/availability/check", content=deep, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["detail"] == "request body is not valid JSON: nested too deeply"


async def test_a_check_body_over_the_limit_is_a_413_declared_or_chunked(client) -> None:
    line = b'{"sku": "SKU-1", "qty": 1},'
    big = b'{"lines": [' + line * (CHECK_MAX_BYTES // len(line)) + line[:-1] + b"]}"
    headers = {"content-type": "application/json"}

    r = await client.post("/v1/availability/check", content=big, headers=headers)
    assert r.status_code == 413
    assert r.json()["detail"] == f"request body is larger than {CHECK_MAX_BYTES} bytes"

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(big), 65_536):
            yield big[i : i + 65_536]

    r = await client.post("/v1/availability/check", content=chunks(), headers=headers)
    assert r.status_code == 413
