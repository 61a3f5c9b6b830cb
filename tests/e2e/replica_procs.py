"""Availability replicas as real processes (the simulator's `Proc`) on a vhost and database of
their own, an inventory feed published live, and what the fault tests read back."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aio_pika
import httpx

from distsync_sim.simulate.cluster import Proc
from distsync_sim.testing import free_port
from shared.consume.admission import Admission
from shared.envelope import build
from shared.partitioning import partition_of
from shared.topology import all_services, declare, full_topology, partition_queue

AVAILABILITY = next(s for s in all_services() if s.name == "availability")
LOCATIONS = ("DC-EAST", "DC-WEST", "BR-NORTH")


@dataclass
class Replicas:
    """The availability replicas of one test: same vhost, same database, own HTTP ports."""

    amqp_url: str
    mongodb_url: str
    db: str
    partitions: int
    logs: Path
    procs: list[Proc] = field(default_factory=list)

    async def declare(self) -> None:
        """The topology before the first event: a publish must find the service's queue."""
        conn = await aio_pika.connect(self.amqp_url)
        topo = full_topology([AVAILABILITY], partitions={"availability": self.partitions})
        await declare(await conn.channel(), topo)
        await conn.close()

    async def add(self) -> Proc:
        """Start one more replica and wait until it answers /readyz."""
        port = free_port()
        env = dict(
            os.environ,
            AMQP_URL=self.amqp_url,
            MONGODB_URL=self.mongodb_url,
            DISTSYNC_MONGODB_DB=self.db,
            DISTSYNC_HTTP_PORT=str(port),
            DISTSYNC_PARTITIONS=str(self.partitions),
            DISTSYNC_PARTITION_BALANCE_S="0.5",
            DISTSYNC_AUTH_MODE="open",
            DISTSYNC_LOG_LEVEL="WARNING",
        )
        name = f"availability#{len(self.procs) + 1}"
        p = Proc(name, "availability", port, env, self.logs / f"{name.replace('#', '-')}.log")
        p.start()
        self.procs.append(p)
        await ready(p)
        return p

    async def stop_all(self) -> None:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.procs))

    def alive(self) -> list[Proc]:
        return [p for p in self.procs if p.alive]


async def ready(p: Proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            assert p.alive, f"{p.name} exited while starting (see {p.log_path})"
            try:
                if (await http.get(p.url + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{p.name} not ready within {timeout}s")


@dataclass
class Feed:
    """`inventory.adjusted` events over a few SKUs, each with the partition its SKU routes to."""

    n: int
    skus: int
    partitions: int
    tag: str
    items: list[tuple[str, bytes]] = field(default_factory=list)
    expected: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    order: dict[str, int] = field(default_factory=dict)  # event id -> its place in the feed
    published: int = 0

    def __post_init__(self) -> None:
        rnd = random.Random(self.tag)
        for i in range(self.n):
            sku, loc = f"{self.tag}-{rnd.randrange(self.skus)}", rnd.choice(LOCATIONS)
            delta = rnd.randint(1, 9)  # never 0: every event changes its position
            data = {"location": loc, "sku": sku, "qty_delta": delta, "reason_code": "CYCLE"}
            ev = build("inventory.adjusted", data, source="wms/e2e")
            self.items.append((ev.id, ev.to_json_bytes()))
            self.expected[(sku, loc)] += delta
            self.order[ev.id] = i

    async def publish(self, amqp_url: str, rate: float) -> None:
        """Publish in order at about `rate` per second, confirmed, ten at a time."""
        conn = await aio_pika.connect(amqp_url)
        try:
            ch = await conn.channel(publisher_confirms=True)
            ex = await ch.get_exchange("wms.events", ensure=False)
            t0 = time.monotonic()
            for i in range(0, self.n, 10):
                delay = t0 + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await asyncio.gather(
                    *(
                        ex.publish(
                            aio_pika.Message(body, message_id=mid, delivery_mode=2),
                            routing_key="inventory.adjusted",
                        )
                        for mid, body in self.items[i : i + 10]
                    )
                )
                self.published = min(self.n, i + 10)
        finally:
            await conn.close()


def partition_of_sku(sku: str, partitions: int) -> int:
    """The partition the router sends a position's events to: the key admission gives it."""
    body = build(
        "inventory.adjusted",
        {"location": "X", "sku": sku, "qty_delta": 1, "reason_code": "C"},
        source="wms/e2e",
    ).to_json_bytes()
    m = SimpleNamespace(body=body, exchange="wms.events", routing_key="inventory.adjusted")
    m.headers = {}
    parsed = Admission(AVAILABILITY, None).parse(m)  # type: ignore[arg-type]
    return partition_of(parsed.keys[0], partitions)


class Changes:
    """Every `availability.changed` the replicas publish, with when it was seen."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self._conn: Any = None

    async def listen(self, amqp_url: str) -> None:
        self._conn = await aio_pika.connect(amqp_url)
        ch = await self._conn.channel()
        q = await ch.declare_queue("", exclusive=True)
        await q.bind("availability.events", "availability.changed")

        async def on(m: Any) -> None:
            self.seen.append((time.monotonic(), json.loads(m.body)))

        await q.consume(on, no_ack=True)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    def out_of_order(self, feed: Feed) -> list[str]:
        """Positions whose versions, in order, were not caused by their events in feed order
        (a version seen twice, from an outbox resend, must name the same cause)."""
        by_pos: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
        bad: list[str] = []
        for _, ev in self.seen:
            d = ev["data"]
            pos, version, cause = (d["sku"], d["location"]), int(d["version"]), ev["causationid"]
            if by_pos[pos].setdefault(version, cause) != cause:
                bad.append(f"{pos} v{version}: two causes")
        for pos, versions in by_pos.items():
            places = [feed.order.get(versions[v], -1) for v in sorted(versions)]
            if places != sorted(places) or -1 in places:
                bad.append(f"{pos}: causes in feed places {places}")
        return bad

    def resumed_after(self, t_kill: float, feed: Feed) -> float:
        """Seconds from `t_kill` until every partition had a change seen after it: the
        moved partitions are consumed again by then."""
        first: dict[int, float] = {}
        for at, ev in self.seen:
            if at > t_kill:
                p = partition_of_sku(ev["data"]["sku"], feed.partitions)
                first.setdefault(p, at)
        missing = set(range(feed.partitions)) - set(first)
        assert not missing, f"partitions {sorted(missing)} never applied anything after the kill"
        return max(first.values()) - t_kill


async def totals_wrong(url: str, feed: Feed) -> list[str]:
    """Positions whose on-hand over HTTP differs from the sum published."""
    wrong: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=20) as http:
        for sku in sorted({s for s, _ in feed.expected}):
            r = await http.get(f"/v1/availability/{sku}")
            got = {p["location"]: p["on_hand"] for p in r.json().get("locations", [])}
            for (s, loc), qty in feed.expected.items():
                if s == sku and abs(got.get(loc, 0.0) - qty) > 1e-9:
                    wrong.append(f"{sku}/{loc}: {got.get(loc)} != {qty}")
    return wrong


async def depths(amqp_url: str, partitions: int) -> dict[str, int]:
    """Messages ready in the service queue, its partitions and its DLQ."""
    names = ["availability.main", "availability.dlq"]
    names += [partition_queue("availability", i) for i in range(partitions)]
    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        out = {}
        for n in names:
            q = await ch.declare_queue(n, passive=True)
            out[n] = int(q.declaration_result.message_count or 0)
        return out
    finally:
        await conn.close()
