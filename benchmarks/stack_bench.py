"""Speed as a user sees it: `inventory.adjusted` events published live to `wms.events` while the
stack runs, positions read back over HTTP, and two peers measured the same way in the same run.

    uv run python -m benchmarks.stack_bench [--events 20000] [--skus 2000] [--rounds 2]
        [--skip bare,faststream]

Contenders, one at a time, each fed the same events by the same publisher (confirmed, 500 in
flight, as fast as the broker takes them):

- distsync: the five services as `make run` starts them (own processes, own databases);
  availability consumes. Done when its /metrics count every event applied; then every SKU is
  read back through `GET /v1/availability/{sku}` and compared with the sums published.
- bare: `benchmarks.contenders.bare`, a hand-written consumer, one transaction per 100.
- faststream: `benchmarks.contenders.faststream_peer`, one transaction per message.

Throughput is events / (time the last was applied - time the first was published). Rounds
alternate the contenders so that a slow minute of the host does not land on one of them; the
best round of each is reported, with every round printed. Prints figures; asserts nothing.
Local RabbitMQ (a throwaway vhost) and a SecantusDB daemon it starts itself (or MONGODB_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable

import aio_pika
import httpx

from distsync_sim.testing import free_port
from shared.envelope import build
from shared.inbox import count as inbox_count
from shared.runtime import mongo_client
from shared.service import SERVICE_NAMES

from .common import (
    CpuMeter,
    applied_count,
    availability_stack,
    broker_pid,
    cpu_probe_ms,
    pct,
    wait_applied,
)

LOCATIONS = ("DC-EAST", "DC-WEST", "BR-NORTH")
Items = list[tuple[str, bytes]]
STALL_S = 60.0  # a contender that applies nothing for this long has failed


def events(n: int, skus: int, seed: int) -> tuple[Items, dict[tuple[str, str], float]]:
    """`n` inventory.adjusted events (id, body) and the on-hand each position must end with."""
    rnd = random.Random(seed)
    out: Items = []
    expected: dict[tuple[str, str], float] = defaultdict(float)
    for _ in range(n):
        sku, loc = f"SKU-{rnd.randrange(skus)}", rnd.choice(LOCATIONS)
        delta = rnd.randint(-5, 20)
        data = {"location": loc, "sku": sku, "qty_delta": delta, "reason_code": "CYCLE"}
        ev = build("inventory.adjusted", data, source="wms/bench")
        out.append((ev.id, ev.to_json_bytes()))
        expected[(sku, loc)] += delta
    return out, expected


async def publish_live(amqp: str, items: Items) -> float:
    """Publish every event to wms.events (confirmed, 500 in flight); returns when it started."""
    conn = await aio_pika.connect(amqp)
    try:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange("wms.events", ensure=False)
        t0 = time.perf_counter()
        for i in range(0, len(items), 500):
            await asyncio.gather(
                *(
                    ex.publish(
                        aio_pika.Message(body, message_id=mid, delivery_mode=2),
                        routing_key="inventory.adjusted",
                    )
                    for mid, body in items[i : i + 500]
                )
            )
        return t0
    finally:
        await conn.close()


async def wait_count(count: Callable[[], Awaitable[int]], n: int, timeout: float = 900) -> float:
    """When `count()` reached n, interpolated between one-second readings."""
    t0 = time.perf_counter()
    prev_t, prev_c = t0, await count()
    moved = t0
    while prev_c < n:
        if time.perf_counter() - t0 > timeout or time.perf_counter() - moved > STALL_S:
            raise TimeoutError(f"{prev_c} of {n} applied after {time.perf_counter() - t0:.0f} s")
        await asyncio.sleep(1.0)
        c, t = await count(), time.perf_counter()
        if c >= n:
            return prev_t + (t - prev_t) * (n - prev_c) / max(c - prev_c, 1)
        if c > prev_c:
            moved = t
        prev_t, prev_c = t, c
    return prev_t


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, DISTSYNC_LOG_LEVEL="WARNING", DISTSYNC_AUTH_MODE="open", **extra)


class Result:
    def __init__(self, name: str, rate: float, cpu: str, check: str) -> None:
        self.name, self.rate, self.cpu, self.check = name, rate, cpu, check


async def run_distsync(
    amqp: str, mongo: str, items: Items, expected: dict[tuple[str, str], float], db_pid: int | None
) -> Result:
    prefix = "bench_stack_" + uuid.uuid4().hex[:6]
    await _purge_service_queues(amqp)  # what the peers' phases published reached them too
    ports = {name: free_port() for name in SERVICE_NAMES}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "run", name],
            env=_env(
                AMQP_URL=amqp,
                MONGODB_URL=mongo,
                DISTSYNC_MONGODB_DB=f"{prefix}_{name.replace('-', '_')}",
                DISTSYNC_HTTP_PORT=str(ports[name]),
                DISTSYNC_DECLARE_TOPOLOGY="false",
            ),
        )
        for name in SERVICE_NAMES
    }
    port = ports["availability"]
    try:
        await _ready(list(ports.values()))
        before = applied_count(port)
        cpu = CpuMeter(
            {
                "availability": procs["availability"].pid,
                "database": db_pid,
                "broker": broker_pid(),
            }
        ).start()
        t0 = await publish_live(amqp, items)
        t1 = await wait_applied([port], before + len(items), timeout=900)
        cpu.stop()
        check = await _read_back(port, expected)
        return Result("distsync", len(items) / (t1 - t0), cpu.per_event_ms(len(items)), check)
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait(30)
        client = mongo_client(mongo)
        for name in SERVICE_NAMES:
            await client.drop_database(f"{prefix}_{name.replace('-', '_')}")
        await client.close()


async def _purge_service_queues(amqp: str) -> None:
    conn = await aio_pika.connect(amqp)
    try:
        ch = await conn.channel()
        for name in SERVICE_NAMES:
            q = await ch.get_queue(f"{name}.main", ensure=False)
            await q.purge()
    finally:
        await conn.close()


async def _ready(ports: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        for port in ports:
            while True:
                try:
                    r = await http.get(f"http://127.0.0.1:{port}/readyz")
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"service on port {port} not ready")
                await asyncio.sleep(0.2)


async def _read_back(port: int, expected: dict[tuple[str, str], float]) -> str:
    """Every SKU through the API, 20 requests at a time: how many positions match, and how
    long a read took."""
    skus = sorted({sku for sku, _ in expected})
    took: list[float] = []
    wrong = 0
    sem = asyncio.Semaphore(20)

    async def one(http: httpx.AsyncClient, sku: str) -> None:
        nonlocal wrong
        async with sem:
            t = time.perf_counter()
            r = await http.get(f"http://127.0.0.1:{port}/v1/availability/{sku}")
            took.append(time.perf_counter() - t)
        got = {p["location"]: p["on_hand"] for p in r.json().get("locations", [])}
        for (s, loc), qty in expected.items():
            if s == sku and abs(got.get(loc, 0.0) - qty) > 1e-9:
                wrong += 1

    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(one(http, s) for s in skus))
    return (
        f"read back {len(skus)} SKUs over HTTP in {time.perf_counter() - t0:.1f} s "
        f"(p50 {pct(took, 50) * 1000:.1f} ms, p99 {pct(took, 99) * 1000:.1f} ms per GET); "
        f"{len(expected) - wrong}/{len(expected)} positions right"
    )


async def run_peer(
    name: str,
    module: str,
    amqp: str,
    mongo: str,
    items: Items,
    expected: dict[tuple[str, str], float],
    db_pid: int | None,
) -> Result:
    db_name = f"bench_{name}_" + uuid.uuid4().hex[:6]
    queue = f"bench.{name}.{uuid.uuid4().hex[:6]}"
    conn = await aio_pika.connect(amqp)
    ch = await conn.channel()
    q = await ch.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
    await q.bind("wms.events", "inventory.adjusted")
    proc = subprocess.Popen([sys.executable, "-m", module, amqp, mongo, db_name, queue], env=_env())
    client = mongo_client(mongo)
    db = client[db_name]
    try:
        await asyncio.sleep(1.5)  # connected and consuming
        cpu = CpuMeter({name: proc.pid, "database": db_pid, "broker": broker_pid()}).start()
        t0 = await publish_live(amqp, items)

        async def applied() -> int:
            if proc.poll() is not None:
                raise RuntimeError(f"{module} exited with {proc.returncode}")
            return int(await inbox_count(db))

        t1 = await wait_count(applied, len(items))
        cpu.stop()
        got = {d["_id"]: d["on_hand"] async for d in db.positions.find({})}
        right = sum(
            1
            for (sku, loc), qty in expected.items()
            if abs(got.get(f"{sku}|{loc}", 0) - qty) < 1e-9
        )
        check = f"{right}/{len(expected)} positions right (read from its database)"
        return Result(name, len(items) / (t1 - t0), cpu.per_event_ms(len(items)), check)
    finally:
        proc.terminate()
        proc.wait(30)
        await q.delete(if_unused=False, if_empty=False)
        await conn.close()
        await client.drop_database(db_name)
        await client.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--skus", type=int, default=2_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma-separated: bare, faststream")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    probe = cpu_probe_ms()
    rounds: list[list[Result]] = []
    async with availability_stack() as (amqp, mongo, srv):
        db_pid = srv.proc.pid if srv and srv.proc else None
        peers = [
            ("bare", "benchmarks.contenders.bare"),
            ("faststream", "benchmarks.contenders.faststream_peer"),
        ]
        peers = [p for p in peers if p[0] not in skip]
        for r in range(args.rounds):
            items, expected = events(args.events, args.skus, seed=r)
            names = ["distsync", *(name for name, _ in peers)]
            if r % 2:
                names.reverse()
            results: list[Result] = []
            for name in names:
                try:
                    if name == "distsync":
                        res = await run_distsync(amqp, mongo, items, expected, db_pid)
                    else:
                        module = dict(peers)[name]
                        res = await run_peer(name, module, amqp, mongo, items, expected, db_pid)
                except (TimeoutError, RuntimeError) as e:
                    print(f"round {r + 1}: {name:10} FAILED: {e}", flush=True)
                    continue
                results.append(res)
                print(
                    f"round {r + 1}: {res.name:10} {res.rate:8.0f} events/s; CPU ms/event: "
                    f"{res.cpu}; {res.check}",
                    flush=True,
                )
            rounds.append(results)
    best: dict[str, Result] = {}
    for results in rounds:
        for res in results:
            if res.name not in best or res.rate > best[res.name].rate:
                best[res.name] = res
    print(
        f"\ndistsync stack benchmark: {args.events:,} inventory.adjusted events live through "
        f"wms.events, {args.skus:,} SKUs x {len(LOCATIONS)} locations; CPU probe {probe:.0f} ms"
    )
    for res in best.values():
        print(f"  {res.name:10} {res.rate:8.0f} events/s (best of {len(rounds)})")
    ds = best.get("distsync")
    if ds and "bare" in best:
        print(f"  distsync / bare pipeline: {ds.rate / best['bare'].rate:6.0%}   target >= 80 %")
    if ds and "faststream" in best:
        print(
            f"  distsync / FastStream   : {ds.rate / best['faststream'].rate:6.1f}x   target >= 5x"
        )


if __name__ == "__main__":
    asyncio.run(main())
