"""HTTP edges over a real server (uvicorn, real sockets): bodies are streamed under a hard limit
with little memory, deep JSON and dates off the calendar are 4xx, ids with `/` are readable."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from carrier_tracking.api import build_router
from carrier_tracking.settings import CarrierTrackingSettings
from carrier_tracking.webhooks import SIGNATURE_HEADER, sign
from distsync_sim.testing import free_port
from shared.envelope import CloudEvent
from shared.http import create_app
from shared.service import ApiContext
from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e

SECRET = "limits-secret"
LIMIT = 1_048_576
POSTED = 200 * 1024 * 1024


def webhook_app(published: list[CloudEvent]) -> FastAPI:
    """carrier-tracking's HTTP app as the runtime builds it, with a recording publisher."""

    async def ready() -> dict[str, str]:
        return {}

    async def publish(exchange: str, ev: CloudEvent) -> None:
        published.append(ev)

    settings = CarrierTrackingSettings(
        carrier_tracking_webhook_secrets={"ups": SECRET, "generic": SECRET},
        carrier_tracking_webhook_max_bytes=LIMIT,
    )
    app = create_app("carrier-tracking", ready)
    app.include_router(build_router(ApiContext("carrier-tracking", None, settings, publish)))
    return app


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


class PeakRss:
    """The highest resident set size of this process while the block runs, sampled every 2 ms."""

    def __init__(self) -> None:
        self.before = self.peak = rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_kib())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 1024


async def test_a_200_mb_chunked_push_is_refused_with_413_in_little_memory() -> None:
    published: list[CloudEvent] = []
    chunk = b" " * 65_536

    async def body() -> AsyncIterator[bytes]:
        for _ in range(POSTED // len(chunk)):
            yield chunk

    async with serving(webhook_app(published)) as url, httpx.AsyncClient(timeout=120) as c:
        started = time.monotonic()
        with PeakRss() as rss:
            r = await c.post(
                f"{url}/v1/webhooks/ups", content=body(), headers={SIGNATURE_HEADER: "sha256=0"}
            )
        took = time.monotonic() - started
    print(
        f"200 MB chunked push: {r.status_code} in {took:.1f} s, peak RSS +{rss.growth_mib:.1f} MiB"
    )
    assert rss.growth_mib < 8, f"RSS grew by {rss.growth_mib:.1f} MiB for a {LIMIT}-byte limit"
    assert r.status_code == 413
    assert r.json() == {"detail": f"request body is larger than {LIMIT} bytes"}
    assert published == []


async def test_a_declared_content_length_over_the_limit_is_refused_before_the_body_is_sent() -> (
    None
):
    async with serving(webhook_app([])) as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                b"POST /v1/webhooks/ups HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"{SIGNATURE_HEADER}: sha256=0\r\nContent-Length: {POSTED}\r\n\r\n".encode()
                + b"{"
            )
            await writer.drain()
            status = await asyncio.wait_for(reader.readline(), timeout=10)
        finally:
            writer.close()
    assert status.startswith(b"HTTP/1.1 413"), status


async def test_a_signed_push_nested_10000_levels_deep_is_422_not_500() -> None:
    published: list[CloudEvent] = []
    deep = b'{"tracking_number": "1Z", "events": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    async with serving(webhook_app(published)) as url, httpx.AsyncClient(timeout=10) as c:
        r = await c.post(
            f"{url}/v1/webhooks/generic",
            content=deep,
            headers={SIGNATURE_HEADER: sign(SECRET, deep), "content-type": "application/json"},
        )
    assert r.status_code == 422, r.text
    assert "nested too deeply" in r.json()["detail"]
    assert published == []


EDGES = ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"]


async def test_dates_off_the_calendar_and_ids_with_slashes_against_the_real_services(
    cluster: Any,
) -> None:
    running = await cluster.start("availability", "order-status", "receipt")
    sku, location = f"SKU/{uuid.uuid4().hex[:6]}/A", "DC/EAST"
    data = {"location": location, "sku": sku, "qty_delta": 7, "reason_code": "CYCLE"}
    await cluster.publish("wms.events", "inventory.adjusted", data, source="wms/dc-east")

    path = f"/v1/availability/{quote(sku, safe='')}"
    body = await eventually(lambda: get_json(running["availability"], path))
    assert (body["sku"], body["total"]["on_hand"]) == (sku, 7)
    one = await get_json(running["availability"], f"{path}/{quote(location, safe='')}")
    assert (one["sku"], one["location"], one["on_hand"]) == (sku, location, 7)

    deep = b'{"lines": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    async with running["availability"].client() as c:
        r = await c.post(
            "/v1/availability/check", content=deep, headers={"content-type": "application/json"}
        )
    assert r.status_code == 400 and "nested too deeply" in r.json()["detail"]

    for service, list_path in (
        ("order-status", "/v1/orders"),
        ("receipt", "/v1/receipt-exceptions"),
    ):
        async with running[service].client() as c:
            for since in EDGES:
                r = await c.get(list_path, params={"since": since})
                assert r.status_code == 422, (service, since, r.text)
                assert "outside years 0001-9999" in r.json()["detail"]
            r = await c.get(
                list_path, params={"since": datetime(2026, 1, 1, tzinfo=UTC).isoformat()}
            )
            assert r.status_code == 200, r.text
