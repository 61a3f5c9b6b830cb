"""The fault test of issue #24: the availability service, given every node of a three-node
cluster, keeps consuming when the node it is on stops mid-stream, and ends with exact totals:
nothing lost, nothing applied twice, nothing dead-lettered.

The service's settings are a parameter, so other consumption modes run the same test."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
import pytest

from availability.main import SERVICE
from distsync_sim.rabbit_cluster import RabbitCluster, StopHow
from distsync_sim.testing import free_port, open_auth
from runtime_support import eventually
from shared import endpoints
from shared.envelope import build
from shared.inbox import count as inbox_count
from shared.messaging import Outgoing, Publisher, connect
from shared.runtime import ServiceRuntime
from shared.topology import declare, dlq, full_topology, main_queue, partition_queue
from tests.cluster.conftest import Vhost
from tests.cluster.support import Progress, consumed, on_node, publish_all

pytestmark = pytest.mark.integration

EVENTS, SKUS, LOCATIONS = 20_000, 100, ("DC-EAST", "DC-WEST")
CHUNK, BACKLOG = 500, 3000
# (how the node stops, the service's settings): one queue both ways, and partitioned consumption
# (router, partition queues and the replica count queue all on the cluster) with the slower stop
CASES = [
    pytest.param("stop_app", {}, id="stop_app-one-queue"),
    pytest.param("kill", {}, id="kill-one-queue"),
    pytest.param("stop_app", {"partitions": 4}, id="stop_app-4-partitions"),
]


def adjustments(run: str) -> tuple[list[Outgoing], dict[tuple[str, str], int]]:
    """`EVENTS` inventory.adjusted over SKUS x LOCATIONS positions, and each position's total.
    Every delta is positive and varied, so a lost or doubled event changes a total."""
    rnd = random.Random(run)
    items: list[Outgoing] = []
    totals: defaultdict[tuple[str, str], int] = defaultdict(int)
    for _ in range(EVENTS):
        sku, loc, delta = f"{run}-{rnd.randrange(SKUS)}", rnd.choice(LOCATIONS), rnd.randint(1, 9)
        data = {"location": loc, "sku": sku, "qty_delta": delta, "reason_code": "CYC", "user": "t"}
        ev = build("inventory.adjusted", data, source="wms/cluster-test")
        props = {"message_id": ev.id, "type": ev.type, "content_type": "application/json"}
        items.append(Outgoing("wms.events", ev.type, ev.to_json_bytes(), props, ev.type))
        totals[(sku, loc)] += delta
    return items, dict(totals)


async def start_service(url: str, mongodb_url: str, **overrides: Any) -> tuple[ServiceRuntime, str]:
    port = free_port()
    settings_cls = SERVICE.settings_cls
    assert settings_cls is not None
    settings = settings_cls(
        amqp_url=url,
        mongodb_url=mongodb_url,
        mongodb_db=f"cluster_{uuid.uuid4().hex[:10]}",
        http_port=port,
        log_json=False,
        outbox_poll_s=0.05,
        batch_wait_ms=2,
        retry_delays_s=[1],
        **overrides,
    )
    rt = ServiceRuntime(SERVICE, settings, auth=open_auth())
    await rt.start(serve_http=True)
    return rt, f"http://127.0.0.1:{port}"


async def positions(base: str, skus: set[str]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    async with httpx.AsyncClient(base_url=base, timeout=20) as c:
        for sku in sorted(skus):
            r = await c.get(f"/v1/availability/{sku}")
            if r.status_code == 200:
                for p in r.json()["locations"]:
                    out[(sku, p["location"])] = float(p["on_hand"])
    return out


async def depth(url: str, queue: str) -> int:
    conn = await connect(url, "test-depth")
    try:
        q = await (await conn.channel()).declare_queue(queue, passive=True)
        return int(q.declaration_result.message_count or 0)
    finally:
        await conn.close()


@pytest.mark.parametrize(("how", "overrides"), CASES)
async def test_availability_keeps_exact_totals_when_its_node_stops_mid_stream(
    rabbit: RabbitCluster,
    vhost: Vhost,
    mongodb_url: str,
    overrides: dict[str, Any],
    how: StopHow,
):
    conn = await connect(vhost.url, "test-topology")
    parts = int(overrides.get("partitions", 1))
    topo = full_topology([SERVICE], retry_delays_s=[1], partitions={SERVICE.name: parts})
    await declare(await conn.channel(), topo)
    await conn.close()
    run = uuid.uuid4().hex[:8]
    items, totals = adjustments(run)
    rt, base = await start_service(vhost.url, mongodb_url, **overrides)
    before = consumed(SERVICE.name)
    progress = Progress(lambda: consumed(SERVICE.name) - before).start()
    seen: dict[str, float] = {}
    rt.connection.close_callbacks.add(lambda *_: seen.setdefault("lost", time.monotonic()))
    rt.connection.reconnect_callbacks.add(lambda *_: seen.setdefault("back", time.monotonic()))
    # the publisher starts on the service's node, so the stop interrupts its confirms as well
    producer = await endpoints.connect_robust(
        endpoints.parse_endpoints(vhost.url), name="test-publisher", start=on_node(rt.connection)
    )
    publisher = Publisher(producer, "test")
    resent = 0

    async def publish() -> None:
        """Publish as the service consumes (at most BACKLOG ahead), so the stop finds both
        the publisher and the consumer at work."""
        nonlocal resent
        for i in range(0, EVENTS, CHUNK):
            await eventually(lambda n=i - BACKLOG: _at_least(progress, n), timeout=120)
            resent += await publish_all(publisher, items[i : i + CHUNK], timeout=120)
        seen["published"] = time.monotonic()

    try:
        t0 = time.monotonic()
        publishing = asyncio.create_task(publish())
        await eventually(lambda: _at_least(progress, EVENTS * 0.2), timeout=120)
        stopped, t_stop = on_node(rt.connection), time.monotonic()
        stop_s = rabbit.stop_node(stopped, how)
        await eventually(lambda: _has(seen, "back"), timeout=60)
        resumed = await eventually(lambda: _moved(progress, seen["back"]), timeout=60)
        assert on_node(rt.connection) != stopped
        start_s = rabbit.start_node(stopped)
        await publishing

        async def all_applied() -> bool:
            return await inbox_count(rt.db) >= EVENTS

        await eventually(all_applied, timeout=180, interval=0.5)
        t_done = time.monotonic()
        assert await inbox_count(rt.db) == EVENTS
        got = await positions(base, {sku for sku, _ in totals})
        assert got == {k: float(v) for k, v in totals.items()}
        assert await depth(vhost.url, dlq(SERVICE.name)) == 0
        for q in [main_queue(SERVICE.name)] + [
            partition_queue(SERVICE.name, i) for i in range(parts) if parts > 1
        ]:
            assert await eventually(lambda q=q: _empty(vhost.url, q), timeout=30), q
        pause = progress.longest_pause(t_stop, resumed)
        print(
            f"\n{EVENTS} events over {len(totals)} positions ({how}, settings {overrides}): "
            f"published in {seen['published'] - t0:.1f}s ({resent} resent), all applied in "
            f"{t_done - t0:.1f}s. Node {stopped}: {how} took {stop_s:.1f}s, start {start_s:.1f}s."
            f" The service's connection closed {seen['lost'] - t_stop:.1f}s after the stop "
            f"began, was open again on node {on_node(rt.connection)} "
            f"{seen['back'] - seen['lost']:.1f}s later, consuming again "
            f"{resumed - seen['lost']:.1f}s after the loss; longest pause in consumption "
            f"{pause:.1f}s"
        )
    finally:
        await progress.stop()
        await producer.close()
        await rt.stop()


async def _at_least(progress: Progress, n: float) -> bool:
    return bool(progress.samples) and progress.samples[-1][1] >= n


async def _moved(progress: Progress, t: float) -> float | None:
    return progress.moved_since(t)


async def _has(seen: dict[str, float], key: str) -> bool:
    return key in seen


async def _empty(url: str, queue: str) -> bool:
    return await depth(url, queue) == 0
