"""Runtime benchmark: events/s through the consumer (inbox + trivial domain change + outbox)
against a bare baseline in the same run, publish-to-outbox-delivery latency, peak RSS.

    uv run python -m benchmarks.runtime_bench [--events 20000] [--rate 500] [--seconds 10]

Prints figures; asserts nothing. Uses the local RabbitMQ (a throwaway vhost) and a SecantusDB
daemon it starts itself (or MONGODB_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
from pymongo import UpdateOne

from distsync_sim.testing import amqp_server, free_port, isolated_vhost, mongodb_server
from shared.envelope import build
from shared.runtime import mongo_client
from shared.topology import declare, service_topology

from .bench_service import SERVICE
from .common import (
    applied_count,
    bind_downstream,
    cpu_probe_ms,
    fsync_probe_ms,
    pct,
    rss_peak_mb,
    wait_applied,
)


def bodies(n: int, skus: int, seed: int) -> list[tuple[str, bytes]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        ev = build(
            "bench.moved", {"sku": f"SKU-{rnd.randrange(skus)}", "qty": 1.0}, source="wms/bench"
        )
        out.append((ev.id, ev.to_json_bytes()))
    return out


async def preload(url: str, queue_exchange: str, items: list[tuple[str, bytes]]) -> None:
    conn = await aio_pika.connect(url)
    ch = await conn.channel(publisher_confirms=True)
    ex = await ch.get_exchange(queue_exchange, ensure=False)
    for i in range(0, len(items), 500):
        await asyncio.gather(
            *(
                ex.publish(
                    aio_pika.Message(b, message_id=mid, delivery_mode=2, type="bench.moved"),
                    routing_key="bench.moved",
                )
                for mid, b in items[i : i + 500]
            )
        )
    await conn.close()


def start_service(
    amqp: str, mongo: str, db: str, port: int | None = None
) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        AMQP_URL=amqp,
        MONGODB_URL=mongo,
        DISTSYNC_MONGODB_DB=db,
        DISTSYNC_HTTP_PORT=str(port or free_port()),
        DISTSYNC_LOG_LEVEL="WARNING",
        DISTSYNC_DECLARE_TOPOLOGY="false",
        DISTSYNC_AUTH_MODE="open",  # a local benchmark stack
    )
    return subprocess.Popen([sys.executable, "-m", "benchmarks.bench_service"], env=env)


async def framework_throughput(amqp: str, mongo: str, n: int) -> tuple[float, float]:
    db = "bench_fw_" + uuid.uuid4().hex[:6]
    await bind_downstream(amqp, "bench.events", "bench.counted")
    await preload(amqp, "wms.events", bodies(n, 1000, 1))
    client = mongo_client(mongo)
    port = free_port()
    proc = start_service(amqp, mongo, db, port)
    try:
        await wait_applied([port], 1)
        t0 = time.perf_counter()
        first = applied_count(port)
        t1 = await wait_applied([port], n)
        rate = (n - first) / (t1 - t0)
        return rate, rss_peak_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        await client.drop_database(db)
        await client.close()


async def baseline_throughput(amqp: str, mongo: str, n: int) -> float:
    """Hand-written aio-pika consume/ack + the same MongoDB writes in bulk, no framework."""
    db_name = "bench_base_" + uuid.uuid4().hex[:6]
    await preload(amqp, "wms.events", bodies(n, 1000, 2))
    client = mongo_client(mongo)
    db = client[db_name]
    conn = await aio_pika.connect(amqp)
    ch = await conn.channel()
    await ch.set_qos(prefetch_count=200)
    q = await ch.get_queue("bench.main", ensure=False)
    buf: asyncio.Queue[Any] = asyncio.Queue()
    await q.consume(buf.put)
    done = 0
    t0 = None
    import json

    while done < n:
        batch = [await buf.get()]
        while len(batch) < 100:
            try:
                batch.append(await asyncio.wait_for(buf.get(), 0.005))
            except TimeoutError:
                break
        if t0 is None:
            t0 = time.perf_counter()
        evs = [json.loads(m.body) for m in batch]
        now = datetime.now(UTC)
        async with client.start_session() as s, await s.start_transaction():
            await db.inbox.insert_many([{"_id": e["id"], "at": now} for e in evs], session=s)
            await db.totals.bulk_write(
                [
                    UpdateOne(
                        {"_id": e["data"]["sku"]},
                        {"$inc": {"total": e["data"]["qty"]}},
                        upsert=True,
                    )
                    for e in evs
                ],
                ordered=False,
                session=s,
            )
            await db.outbox.insert_many(
                [{"_id": str(uuid.uuid4()), "body": m.body, "sent_at": None} for m in batch],
                session=s,
            )
        await batch[-1].ack(multiple=True)
        done += len(batch)
    rate = n / (time.perf_counter() - (t0 or time.perf_counter()))
    await conn.close()
    await client.drop_database(db_name)
    await client.close()
    return rate


async def latency(amqp: str, mongo: str, rate: float, seconds: float) -> tuple[list[float], float]:
    db = "bench_lat_" + uuid.uuid4().hex[:6]
    proc = start_service(amqp, mongo, db)
    conn = await aio_pika.connect(amqp)
    ch = await conn.channel(publisher_confirms=False)
    out = await ch.declare_queue("", exclusive=True)
    await out.bind(await ch.get_exchange("bench.events", ensure=False), "bench.counted")
    sent: dict[str, float] = {}
    lat: list[float] = []

    async def on_out(m: Any) -> None:
        import json

        cause = json.loads(m.body).get("causationid")
        if cause in sent:
            lat.append(time.perf_counter() - sent[cause])

    await out.consume(on_out, no_ack=True)
    ex = await ch.get_exchange("wms.events", ensure=False)
    client = mongo_client(mongo)
    try:
        for _ in range(300):  # warm-up: service up and consuming
            mid, b = bodies(1, 10, random.randrange(10**9))[0]
            sent[mid] = time.perf_counter()
            await ex.publish(aio_pika.Message(b, message_id=mid, delivery_mode=2), "bench.moved")
            await asyncio.sleep(0.05)
            if lat:
                break
        lat.clear()
        sent.clear()
        total = int(rate * seconds)
        items = bodies(total, 1000, 3)
        t0 = time.perf_counter()
        for i, (mid, b) in enumerate(items):
            target = t0 + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[mid] = time.perf_counter()
            await ex.publish(aio_pika.Message(b, message_id=mid, delivery_mode=2), "bench.moved")
        deadline = time.perf_counter() + 30
        while len(lat) < total and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        return lat, rss_peak_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
        await conn.close()
        await client.drop_database(db)
        await client.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--latency-only", action="store_true", help="skip the two throughput runs")
    args = ap.parse_args()
    probe_before, fsync_before = cpu_probe_ms(), fsync_probe_ms()
    with amqp_server() as base, isolated_vhost(base) as amqp, mongodb_server() as (mongo, _):
        conn = await aio_pika.connect(amqp)
        await declare(await conn.channel(), service_topology(SERVICE))
        await conn.close()
        fw, fw_rss, base_rate = 0.0, 0.0, 0.0
        if not args.latency_only:
            fw, fw_rss = await framework_throughput(amqp, mongo, args.events)
            base_rate = await baseline_throughput(amqp, mongo, args.events)
        lat, lat_rss = await latency(amqp, mongo, args.rate, args.seconds)
    print("distsync runtime benchmark")
    print(
        f"  CPU probe (2M-step Python loop): {probe_before:.0f} ms before, "
        f"{cpu_probe_ms():.0f} ms after; fsync probe (4 KiB): {fsync_before:.2f} ms before, "
        f"{fsync_probe_ms():.2f} ms after"
    )
    print(
        f"  machine: {os.cpu_count()} cores; database: "
        f"{'MONGODB_URL' if os.environ.get('MONGODB_URL') else 'SecantusDB daemon'}"
    )
    if not args.latency_only:
        print(
            f"  consumer (inbox + get/put + outbox, batch txn): {fw:8.0f} events/s "
            f"over {args.events}"
        )
        print(f"  bare baseline (aio-pika + bulk writes, same txn): {base_rate:8.0f} events/s")
        print(f"  ratio framework/baseline: {fw / base_rate:.0%}")
    print(
        f"  publish -> outbox event received at {args.rate:.0f} events/s offered, "
        f"{len(lat)} samples: p50 {pct(lat, 50) * 1000:.1f} ms, p95 {pct(lat, 95) * 1000:.1f} ms, "
        f"p99 {pct(lat, 99) * 1000:.1f} ms, max {max(lat or [0]) * 1000:.1f} ms"
    )
    print(f"  peak RSS of the service process: {max(fw_rss, lat_rss):.1f} MB")
    if lat:
        print(f"  mean latency {statistics.mean(lat) * 1000:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
