"""Ingress benchmark: events/s accepted over HTTP with broker confirms, one event per request
and in batches, and the p50/p99 of the answer.

    uv run python -m benchmarks.ingress_bench [--seconds 8] [--clients 16] [--batch 100]

Prints figures; asserts nothing. The ingress runs in a process of its own (open mode) against a
throwaway vhost on the local RabbitMQ and the SecantusDB daemon started here (unless
MONGODB_URL is set); the services' topology is declared so every event reaches a quorum queue
(availability.main), nobody consumes it, and the vhost is deleted afterwards. Each accepted event
costs the ingress two writes to its idempotency record and one confirmed publish.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import httpx

from distsync_sim.testing import amqp_server, free_port, isolated_vhost, mongodb_server
from shared.topology import all_services, declare, full_topology

from .common import cpu_probe_ms


def _event(i: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "wms/bench",
        "type": "inventory.adjusted",
        "time": datetime.now(UTC).isoformat(),
        "data": {
            "location": "DC-B",
            "sku": f"SKU-{i % 500}",
            "qty_delta": 1,
            "reason_code": "BENCH",
            "user": "bench",
        },
    }


async def _drive(url: str, seconds: float, clients: int, batch: int) -> tuple[int, list[float]]:
    """`clients` loops posting for `seconds`; events accepted and each answer's latency."""
    ctype = "application/cloudevents-batch+json" if batch > 1 else "application/cloudevents+json"
    latencies: list[float] = []
    accepted = 0
    stop_at = time.perf_counter() + seconds

    async def client(k: int) -> None:
        nonlocal accepted
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            n = 0
            while time.perf_counter() < stop_at:
                evs = [_event(k * 1_000_000 + n + j) for j in range(batch)]
                n += batch
                body = json.dumps(evs if batch > 1 else evs[0])
                t = time.perf_counter()
                r = await c.post("/v1/events", content=body, headers={"content-type": ctype})
                latencies.append(time.perf_counter() - t)
                if r.status_code != 202:
                    raise SystemExit(f"unexpected answer {r.status_code}: {r.text[:300]}")
                accepted += sum(1 for e in r.json()["events"] if e["status"] == "accepted")

    await asyncio.gather(*(client(k) for k in range(clients)))
    return accepted, latencies


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000 if s else float("nan")


async def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=url) as c:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit("the ingress process exited")
            try:
                if (await c.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the ingress did not become ready")


async def main(seconds: float, clients: int, batch: int) -> None:
    with amqp_server() as base, isolated_vhost(base) as amqp, mongodb_server() as (mongo, _):
        conn = await aio_pika.connect(amqp)
        await declare(await conn.channel(), full_topology(all_services()))
        await conn.close()
        port = free_port()
        env = {
            **os.environ,
            "AMQP_URL": amqp,
            "MONGODB_URL": mongo,
            "DISTSYNC_MONGODB_DB": f"bench_ingress_{uuid.uuid4().hex[:8]}",
            "DISTSYNC_HTTP_PORT": str(port),
            "DISTSYNC_AUTH_MODE": "open",
            "DISTSYNC_LOG_LEVEL": "WARNING",
        }
        code = (
            "import asyncio; from ingress.main import SERVICE; "
            "from shared.runtime import serve_forever; asyncio.run(serve_forever(SERVICE))"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            await _wait_ready(url, proc)
            print(f"cpu probe: {cpu_probe_ms():.0f} ms (lower is a faster machine right now)")
            await _drive(url, 1.0, 2, 1)  # warm-up
            for mode, size, n_clients in (("single", 1, clients), ("batched", batch, 4)):
                accepted, lat = await _drive(url, seconds, n_clients, size)
                print(
                    f"{mode:8s} batch={size:<4d} clients={n_clients:<3d} "
                    f"{accepted / seconds:8.0f} events/s accepted, {len(lat) / seconds:7.1f} "
                    f"requests/s, answer p50 {_pct(lat, 50):6.1f} ms p99 {_pct(lat, 99):6.1f} ms"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--batch", type=int, default=100)
    a = ap.parse_args()
    asyncio.run(main(a.seconds, a.clients, a.batch))
