"""Outages of the real servers: the database stops for a while, the broker restarts."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest

from distsync_sim.testing import SecantusServer, rabbitmqctl_usable
from runtime_support import (
    counter_service,
    event_body,
    eventually,
    outbox_events,
    publish,
    settings_for,
    start,
)
from shared.inbox import count as inbox_count

pytestmark = pytest.mark.integration


async def test_a_database_outage_is_retried_and_then_succeeds_with_one_effect(amqp_url, tmp_path):
    from shared.runtime import mongo_client

    srv = SecantusServer(storage=str(tmp_path / "db")).start()
    svc = counter_service()
    rt = await start(svc, settings_for(amqp_url, srv.url, "outage"))
    client = None
    try:
        srv.stop()  # the database goes away
        for i in range(10):
            _, b = event_body("outage", i + 1)
            await publish(amqp_url, "wms.events", "thing.happened", b)
        await asyncio.sleep(2)  # let the consumer hit the outage (it must wait, not drop)
        srv.start()  # same port, same data
        client = mongo_client(srv.url)

        async def total() -> int | None:
            d = await client["outage"]["counters"].find_one({"_id": "outage"})
            return d["total"] if d else None

        await eventually(lambda: _is(total(), 55), timeout=60)
        assert await inbox_count(client["outage"]) == 10
    finally:
        await rt.stop()
        if client is not None:
            await client.close()
        srv.cleanup()


@pytest.mark.skipif(shutil.which("rabbitmqctl") is None, reason="needs rabbitmqctl on this host")
async def test_a_broker_restart_loses_nothing(amqp_url, mongodb_url, mongo, db_name):
    if not rabbitmqctl_usable(amqp_url):
        pytest.skip("broker is not local")
    svc = counter_service()
    rt = await start(svc, settings_for(amqp_url, mongodb_url, db_name))
    try:
        for i in range(20):
            _, b = event_body("restart", 1)
            await publish(amqp_url, "wms.events", "thing.happened", b)
        subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True)
        subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, capture_output=True)
        subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, capture_output=True)

        async def published_after_restart() -> bool:
            try:
                for _ in range(20):
                    _, b = event_body("restart", 1)
                    await publish(amqp_url, "wms.events", "thing.happened", b)
                return True
            except Exception:
                return False

        await eventually(published_after_restart, timeout=30, interval=0.5)

        async def total() -> int | None:
            d = await mongo[db_name]["counters"].find_one({"_id": "restart"})
            return d["total"] if d else None

        await eventually(lambda: _is(total(), 40), timeout=60)
        await eventually(lambda: _is(outbox_events(mongo[db_name], sent=False), 0), timeout=30)
        assert await outbox_events(mongo[db_name]) == 40
    finally:
        await rt.stop()


async def _is(coro, expected):
    return (await coro) == expected
