"""DLQ console benchmark: how long the console's pages and their data take with a deep DLQ.

    uv run python -m benchmarks.console_bench [--messages 100000] [--repeat 20]

Fills `availability.dlq` (a throwaway vhost, the full topology) with N failed events in three
failure groups, their failures spread over the last day, then times over real HTTP: the page
shells, the console's data calls cold (the first walk of the queue) and warm (from the
snapshot), the DLQ API's own listing for comparison (a whole walk per call), and, if Debian's
chromium is installed, whole page loads in a browser (navigation until the page has rendered
its data). Prints figures; asserts nothing. Target: pages in under 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import aiormq
import httpx
from pamqp import commands as spec

from distsync_ops import dlq as D
from distsync_ops.dlq_api import create_dlq_app
from distsync_sim.testing import amqp_server, isolated_vhost, mongodb_server
from shared import failures as F
from shared.auth import AuthSettings
from shared.envelope import build
from shared.errors import Rejected
from shared.topology import all_services, declare, full_topology
from tools.ops.tests.browser.console_support import HAVE_CHROMIUM, chromium, ready, served

SERVICE = "availability"
QUEUE = D.queue_of(SERVICE)
REASONS = (
    "no conversion from CS to base unit for {sku}",
    "unknown location {loc} for {sku}",
    "quantity {n} is not a number",
)


def messages(n: int) -> list[tuple[bytes, spec.Basic.Properties]]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        sku, loc = f"SKU-{i % 977}", f"DC-{i % 7}"
        ev = build("inventory.adjusted", {"sku": sku, "location": loc, "n": i}, source="wms/b")
        reason = REASONS[i % len(REASONS)].format(sku=sku, loc=loc, n=i)
        headers = F.failure_headers(
            previous={},
            exc=Rejected(reason),
            kind="rejected",
            service=SERVICE,
            queue=f"{SERVICE}.main",
            exchange="wms.events",
            routing_key="inventory.adjusted",
            event_type="inventory.adjusted" if i % 3 else "inventory.counted",
        )
        at = (now - timedelta(seconds=(i * 86_400) // n)).isoformat()
        headers[F.H_FIRST] = headers[F.H_LAST] = at
        props = spec.Basic.Properties(
            message_id=ev.id, message_type=ev.type, delivery_mode=2, headers=headers
        )
        out.append((ev.to_json_bytes(), props))
    return out


async def fill(url: str, n: int) -> None:
    topo = await aio_pika.connect(url)
    try:
        await declare(await topo.channel(), full_topology(all_services(), retry_delays_s=[1]))
    finally:
        await topo.close()
    conn = await aiormq.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        for start in range(0, n, 5000):
            batch = messages(min(5000, n - start))
            for i in range(0, len(batch), 500):
                await asyncio.gather(
                    *(
                        ch.basic_publish(body, routing_key=QUEUE, properties=props)
                        for body, props in batch[i : i + 500]
                    )
                )
    finally:
        await conn.close()


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return f"median {statistics.median(xs) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


async def timed(c: httpx.AsyncClient, path: str, repeat: int) -> tuple[list[float], Any]:
    times, last = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = await c.get(path)
        times.append(time.perf_counter() - t0)
        r.raise_for_status()
        last = r
    return times, last


async def run(url: str, mongodb_url: str, n: int, repeat: int) -> None:
    print(f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    await fill(url, n)
    print(f"filled {QUEUE} with {n:,} messages in {time.perf_counter() - t0:.1f} s")
    settings = D.DlqSettings(
        amqp_url=url, mongodb_url=mongodb_url, admin_db=f"consolebench_{uuid.uuid4().hex[:8]}"
    )
    app = create_dlq_app(settings, AuthSettings(mode="open"))
    async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=600) as c:
        for path in ("/console/", f"/console/services/{SERVICE}", "/console/static/pages.js"):
            times, _ = await timed(c, path, repeat)
            print(f"page shell {path:<36} {ms(times)}")

        t0 = time.perf_counter()
        r = await c.get("/v1/console/overview")
        cold = time.perf_counter() - t0
        mine = next(q for q in r.json()["queues"] if q["target"] == SERVICE)
        print(
            f"overview, cold (walk started)          {cold * 1000:7.1f} ms   state {mine['state']}"
        )
        while True:
            r = await c.get(f"/v1/console/{SERVICE}/groups", params={"wait": 0})
            snap = r.json()
            if snap.get("state") == "current":
                break
            await asyncio.sleep(0.5)
        print(
            f"first walk (background)                {snap['took_s']:7.2f} s    "
            f"scanned {snap['scanned']:,} of {snap['depth']:,}, {len(snap['groups'])} groups"
        )
        group = snap["groups"][0]["id"]
        g = (await c.get(f"/v1/console/{SERVICE}/groups/{group}")).json()
        event_id = g["messages"][0]["id"]
        for label, path in (
            ("overview, warm", "/v1/console/overview"),
            ("failure groups", f"/v1/console/{SERVICE}/groups"),
            ("one group's messages", f"/v1/console/{SERVICE}/groups/{group}"),
            ("one message", f"/v1/console/{SERVICE}/messages/{event_id}"),
        ):
            times, _ = await timed(c, path, repeat)
            print(f"data {label:<33} {ms(times)}")

        times, _ = await timed(c, f"/v1/dlq?service={SERVICE}", 1)
        print(f"for comparison: GET /v1/dlq (API walk)  {times[0]:7.2f} s")
        times, _ = await timed(c, f"/v1/dlq/{SERVICE}/messages?limit=20", 1)
        print(f"for comparison: GET messages?limit=20   {times[0]:7.2f} s")

        if not HAVE_CHROMIUM:
            print("no chromium: browser page loads not measured")
            return
        async with chromium() as browser:
            page = await browser.new_page()
            for label, path in (
                ("overview", "/console/"),
                ("failure groups", f"/console/services/{SERVICE}"),
                ("group", f"/console/services/{SERVICE}/groups/{group}"),
                ("message", f"/console/services/{SERVICE}/messages/{event_id}"),
            ):
                times = []
                for _ in range(max(3, repeat // 2)):
                    t0 = time.perf_counter()
                    await page.goto(base + path)
                    await ready(page)
                    times.append(time.perf_counter() - t0)
                print(f"browser page load {label:<20} {ms(times)}   (navigation to data shown)")
            # the worst case: the same pages while a background walk of the deep queue runs
            await c.get("/v1/console/overview", params={"refresh": "true", "wait": 0})
            walking = []
            while len(walking) < 10:
                t0 = time.perf_counter()
                await page.goto(base + "/console/")
                await ready(page)
                walking.append(time.perf_counter() - t0)
            state = (await c.get(f"/v1/console/{SERVICE}/groups", params={"wait": 0})).json()
            print(
                f"browser page load overview, walk running {ms(walking)}   "
                f"(state after: {state['state']})"
            )
    print(f"load average at end {os.getloadavg()[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    with amqp_server() as base, isolated_vhost(base) as url, mongodb_server() as (murl, _):
        asyncio.run(run(url, murl, args.messages, args.repeat))


if __name__ == "__main__":
    main()
