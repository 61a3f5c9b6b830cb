"""GET /v1/returns/{rma_id}: the RMA as integrators read it."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from returns.api import build_router
from shared.http import create_app
from shared.service import ApiContext


async def get(h, path: str) -> httpx.Response:
    async def publish(exchange, event):  # the read API never publishes
        raise AssertionError("unexpected publish")

    ctx = ApiContext(
        service="returns", db=h.task_context().db, settings=h.settings, publish=publish
    )

    async def ready() -> dict[str, str]:
        return {}

    app = create_app("returns", ready)
    app.include_router(build_router(ctx))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://returns") as c:
        return await c.get(path)


async def test_get_return_shows_lines_quantities_dispositions_flags_and_history(h, ev):
    await h.send("return.authorized", ev.authorized(lines=[("SKU-1", 5), ("SKU-2", 1)]))
    await h.send("return.received", ev.received(lines=[("SKU-1", 6)]))
    await h.send(
        "return.inspected", ev.inspected(lines=[("SKU-1", 3, "restock"), ("SKU-1", 2, "scrap")])
    )

    body = (await get(h, "/v1/returns/RMA-1")).json()

    assert (body["rma_id"], body["order_id"], body["status"]) == (
        "RMA-1",
        "ORD-1",
        "partially_received",
    )
    assert [line["sku"] for line in body["lines"]] == ["SKU-1", "SKU-2"]
    assert body["totals"] == {
        "authorized": 6,
        "received": 6,
        "pending": 1,
        "awaiting_inspection": 1,
        "inspected": 5,
        "excess": 1,
    }
    assert body["dispositions"] == {"restock": 3, "refurbish": 0, "scrap": 2, "return_to_vendor": 0}
    sku1 = next(i for i in body["items"] if i["sku"] == "SKU-1")
    assert (sku1["received"], sku1["awaiting_inspection"]) == (6, 1)
    assert [(f["kind"], f["qty"]) for f in body["flags"]] == [("over_receipt", 1)]
    kinds = [e["kind"] for e in body["history"]]
    assert kinds[:2] == ["authorized", "status"]
    assert kinds.count("inspected") == 2
    assert body["history"][0]["at"].endswith("Z") or "+00:00" in body["history"][0]["at"]


async def test_return_held_before_authorization_shows_no_status(h, ev):
    await h.send("return.received", ev.received(lines=[("SKU-1", 1)]))

    body = (await get(h, "/v1/returns/RMA-1")).json()

    assert (body["status"], body["authorized"], body["order_id"]) == (None, False, None)
    assert body["totals"]["received"] == 1


async def test_unknown_rma_is_404_with_a_message(h):
    r = await get(h, "/v1/returns/RMA-404")
    assert r.status_code == 404
    assert r.json() == {"detail": "no return with rma_id 'RMA-404'"}


async def test_rma_ids_with_a_slash_or_a_space_are_read_percent_encoded(h, ev):
    for rma_id in ("RMA/2026/7", "RMA 8", "50%2F"):
        await h.send("return.authorized", ev.authorized(rma_id=rma_id))
        r = await get(h, "/v1/returns/" + quote(rma_id, safe=""))
        assert r.status_code == 200, r.text
        assert r.json()["rma_id"] == rma_id
    assert (await get(h, "/v1/returns/RMA/2026/7")).status_code == 404


async def test_an_rma_id_longer_than_any_stored_is_422(h):
    r = await get(h, "/v1/returns/" + "R" * 257)
    assert r.status_code == 422
    assert "rma_id" in r.json()["detail"]
