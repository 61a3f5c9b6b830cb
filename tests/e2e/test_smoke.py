"""Every service starts against the real servers and answers its health endpoints."""

from __future__ import annotations

import httpx
import pytest

from shared.settings import DEFAULT_PORTS

pytestmark = pytest.mark.e2e


async def test_every_service_starts_and_is_ready_with_metrics(cluster):
    running = await cluster.start(*DEFAULT_PORTS)
    assert set(running) == set(DEFAULT_PORTS)
    for r in running.values():
        async with httpx.AsyncClient(base_url=r.url) as c:
            assert (await c.get("/healthz")).status_code == 200
            ready = await c.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "outbox": "ok"}
            metrics = (await c.get("/metrics")).text
            assert "distsync_service_up" in metrics


async def test_readyz_answers_503_when_the_database_is_unreachable(cluster, amqp_url):
    running = await cluster.start("returns")
    rt = running["returns"].runtime
    from shared.runtime import mongo_client

    good = rt.client
    rt.client = mongo_client(
        "mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=300"
    )
    try:
        async with httpx.AsyncClient(base_url=running["returns"].url, timeout=10) as c:
            resp = await c.get("/readyz")
        assert resp.status_code == 503
        assert resp.json()["checks"]["database"].startswith("unreachable")
    finally:
        await rt.client.close()
        rt.client = good
