"""Availability benchmark: inventory events/s through one instance and through two, and
publish-to-`availability.changed` latency at an offered rate.

    uv run python -m benchmarks.availability_bench [--events 20000] [--rate 500] [--seconds 10]
        [--skus 2000] [--span-hours 0] [--skip one,two,latency]

Prints figures; asserts nothing. Local RabbitMQ (a throwaway vhost) and a SecantusDB daemon it
starts itself (or MONGODB_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika

from distsync_sim.testing import free_port
from shared.envelope import build
from shared.runtime import mongo_client

from .common import (
    CpuMeter,
    applied_count,
    availability_stack,
    broker_pid,
    cpu_probe_ms,
    fsync_probe_ms,
    metric_total,
    pct,
    retries,
    rss_peak_mb,
    wait_applied,
)

KINDS = ("inventory.adjusted", "order.allocated", "inventory.quarantined", "inventory.released")


def events(n: int, skus: int, seed: int, span_h: float = 0.0) -> list[tuple[str, str, bytes]]:
    """`n` inventory events over `skus` SKUs at 3 locations; with `span_h`, their event times
    are spread evenly over that many hours up to now (as a backlog replayed after an outage)."""
    rnd = random.Random(seed)
    out = []
    start = datetime.now(UTC) - timedelta(hours=span_h)
    for i in range(n):
        sku, loc = f"SKU-{rnd.randrange(skus)}", rnd.choice(("DC-EAST", "DC-WEST", "BR-NORTH"))
        kind = rnd.choices(KINDS, weights=(6, 2, 1, 1))[0]
        if kind == "inventory.adjusted":
            data: dict[str, Any] = {
                "location": loc,
                "sku": sku,
                "qty_delta": rnd.randint(-5, 20),
                "reason_code": "CYCLE",
                "user": "bench",
            }
            ex = "wms.events"
        elif kind == "order.allocated":
            data = {
                "order_id": f"O-{rnd.randrange(10**6)}",
                "lines": [{"line_id": "1", "sku": sku, "location": loc, "qty": 1}],
            }
            ex = "erp.events"
        else:
            data = {"location": loc, "sku": sku, "qty": 1, "reason_code": "QA"}
            ex = "wms.events"
        source = "wms/bench" if ex == "wms.events" else "erp/bench"
        at = start + timedelta(hours=span_h * i / n) if span_h else None
        ev = build(kind, data, source=source, time=at)
        out.append((ex, ev.id, ev.to_json_bytes()))
    return out


async def preload(url: str, items: list[tuple[str, str, bytes]]) -> None:
    conn = await aio_pika.connect(url)
    ch = await conn.channel(publisher_confirms=True)
    exs = {n: await ch.get_exchange(n, ensure=False) for n in ("wms.events", "erp.events")}
    for i in range(0, len(items), 500):
        await asyncio.gather(
            *(
                exs[ex].publish(
                    aio_pika.Message(b, message_id=mid, delivery_mode=2),
                    routing_key=json.loads(b)["type"],
                )
                for ex, mid, b in items[i : i + 500]
            )
        )
    await conn.close()


def start(
    amqp: str, mongo: str, db: str, port: int | None = None, log: Any = None, **extra: str
) -> subprocess.Popen[bytes]:
    """One availability process; `extra` adds settings (e.g. DISTSYNC_PARTITIONS), `log` (a
    file) takes its output."""
    env = dict(
        os.environ,
        AMQP_URL=amqp,
        MONGODB_URL=mongo,
        DISTSYNC_MONGODB_DB=db,
        DISTSYNC_HTTP_PORT=str(port or free_port()),
        DISTSYNC_LOG_LEVEL="WARNING",
        DISTSYNC_DECLARE_TOPOLOGY="false",
        DISTSYNC_AUTH_MODE="open",  # a local benchmark stack
        **extra,
    )
    cmd = [sys.executable, "-m", "shared.cli", "run", "availability"]
    if log is None:
        return subprocess.Popen(cmd, env=env)
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


async def throughput(
    amqp: str,
    mongo: str,
    n: int,
    replicas: int,
    db_pid: int | None,
    skus: int = 2000,
    span_h: float = 0.0,
) -> tuple[float, float, str]:
    db = f"bench_av{replicas}_" + uuid.uuid4().hex[:6]
    await preload(amqp, events(n, skus, replicas, span_h))
    client = mongo_client(mongo)
    ports = [free_port() for _ in range(replicas)]
    procs = [start(amqp, mongo, db, port) for port in ports]
    try:
        await wait_applied(ports, 1)
        pids: dict[str, int | None] = {f"service{i + 1}": p.pid for i, p in enumerate(procs)}
        cpu = CpuMeter({**pids, "database": db_pid, "broker": broker_pid()}).start()
        t0 = time.perf_counter()
        first = applied_count(*ports)
        t1 = await wait_applied(ports, n)
        cpu.stop()
        rate = (n - first) / (t1 - t0)
        batches = metric_total(tuple(ports), "distsync_batch_messages_count")
        note = (
            f"{cpu.per_event_ms(n - first)}; transactions redone: {retries(*ports):.0f}; "
            f"mean batch {n / max(batches, 1):.0f}"
        )
        return rate, max(rss_peak_mb(p.pid) for p in procs), note
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        await client.drop_database(db)
        await client.close()


async def latency(amqp: str, mongo: str, rate: float, seconds: float) -> list[float]:
    db = "bench_avlat_" + uuid.uuid4().hex[:6]
    proc = start(amqp, mongo, db)
    conn = await aio_pika.connect(amqp)
    ch = await conn.channel()
    out = await ch.declare_queue("", exclusive=True)
    await out.bind(
        await ch.get_exchange("availability.events", ensure=False), "availability.changed"
    )
    sent: dict[str, float] = {}
    lat: list[float] = []

    async def on_out(m: Any) -> None:
        cause = json.loads(m.body).get("causationid")
        if cause in sent:
            lat.append(time.perf_counter() - sent.pop(cause))

    await out.consume(on_out, no_ack=True)
    pub = await conn.channel()
    exs = {n: await pub.get_exchange(n, ensure=False) for n in ("wms.events", "erp.events")}
    try:
        for _ in range(600):  # warm-up until the service answers
            ex, mid, b = events(1, 10, random.randrange(10**9))[0]
            sent[mid] = time.perf_counter()
            await exs[ex].publish(aio_pika.Message(b, message_id=mid), json.loads(b)["type"])
            await asyncio.sleep(0.05)
            if lat:
                break
        lat.clear()
        sent.clear()
        items = [e for e in events(int(rate * seconds), 2000, 9) if e[0] == "wms.events"]
        t0 = time.perf_counter()
        for i, (ex, mid, b) in enumerate(items):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[mid] = time.perf_counter()
            await exs[ex].publish(
                aio_pika.Message(b, message_id=mid, delivery_mode=2), json.loads(b)["type"]
            )
        deadline = time.perf_counter() + 30
        while sent and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        return lat
    finally:
        proc.terminate()
        proc.wait(30)
        await conn.close()
        client = mongo_client(mongo)
        await client.drop_database(db)
        await client.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument(
        "--skus",
        type=int,
        default=2000,
        help="SKUs the throughput phases spread events over (3 locations each); fewer SKUs "
        "mean longer-lived positions with longer movement logs",
    )
    ap.add_argument(
        "--span-hours",
        type=float,
        default=0.0,
        help="spread the throughput phases' event times over this many hours (0: all now)",
    )
    ap.add_argument(
        "--skip", default="", help="comma-separated phases to leave out: one, two, latency"
    )
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    probe_before, fsync_before = cpu_probe_ms(), fsync_probe_ms()
    async with availability_stack() as (amqp, mongo, srv):
        db_pid = srv.proc.pid if srv and srv.proc else None
        none: tuple[float, float, str] = (0.0, 0.0, "skipped")
        one, rss1, cpu1 = (
            none
            if "one" in skip
            else await throughput(amqp, mongo, args.events, 1, db_pid, args.skus, args.span_hours)
        )
        two, rss2, cpu2 = (
            none
            if "two" in skip
            else await throughput(amqp, mongo, args.events, 2, db_pid, args.skus, args.span_hours)
        )
        lat = [] if "latency" in skip else await latency(amqp, mongo, args.rate, args.seconds)
    print("distsync availability benchmark")
    print(
        f"  CPU probe (2M-step Python loop): {probe_before:.0f} ms before, "
        f"{cpu_probe_ms():.0f} ms after; fsync probe (4 KiB): {fsync_before:.2f} ms before, "
        f"{fsync_probe_ms():.2f} ms after"
    )
    print(
        f"  one instance : {one:8.0f} inventory events/s over {args.events} (peak RSS {rss1:.0f} MB)"
    )
    print(f"    CPU ms per event: {cpu1}")
    print(
        f"  two instances: {two:8.0f} inventory events/s over {args.events} (peak RSS {rss2:.0f} MB each at most)"
    )
    print(f"    CPU ms per event: {cpu2}")
    print(
        f"  publish -> availability.changed at {args.rate:.0f}/s offered, {len(lat)} samples: "
        f"p50 {pct(lat, 50) * 1000:.1f} ms, p95 {pct(lat, 95) * 1000:.1f} ms, "
        f"p99 {pct(lat, 99) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
