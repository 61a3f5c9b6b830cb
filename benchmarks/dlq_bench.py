"""DLQ benchmark: replay throughput (messages/s) out of a dead-letter queue, with publisher
confirms and `mandatory`, acked only after the confirm -- plus, for context, how fast this
broker takes bare confirmed publishes, and how long `list` (a full non-consuming walk) takes.

    uv run python -m benchmarks.dlq_bench [--messages 20000] [--body-bytes 600]

Prints figures; asserts nothing. Target: replay >= 2,000 messages/s (AWS SQS redrive is capped
at 500/s). Uses the local RabbitMQ (a throwaway vhost) and MONGODB_URL or a SecantusDB daemon
it starts itself (for the audit log).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aiormq
from pamqp import commands as spec

from distsync_ops import dlq as D
from distsync_sim.testing import amqp_server, isolated_vhost, mongodb_server
from shared import failures as F
from shared.envelope import build
from shared.errors import Rejected

SERVICE = "dlqbench"
QUEUE = D.queue_of(SERVICE)


async def declare(url: str) -> None:
    conn = await aiormq.connect(url)
    try:
        ch = await conn.channel()
        qq = {"x-queue-type": "quorum"}
        for q in (QUEUE, "dlqbench.sink", "dlqbench.baseline"):
            await ch.queue_declare(q, durable=True, arguments=qq)
        await ch.exchange_declare("dlqbench.events", exchange_type="topic", durable=True)
        await ch.queue_bind("dlqbench.sink", "dlqbench.events", routing_key="#")
    finally:
        await conn.close()


def messages(n: int, body_bytes: int) -> list[tuple[bytes, spec.Basic.Properties]]:
    headers = F.failure_headers(
        previous={},
        exc=Rejected("no conversion for unit CS"),
        kind="rejected",
        service=SERVICE,
        queue=f"{SERVICE}.main",
        exchange="dlqbench.events",
        routing_key="bench.moved",
        event_type="bench.moved",
    )
    out = []
    pad = "x" * max(0, body_bytes - 250)
    for i in range(n):
        ev = build("bench.moved", {"sku": f"SKU-{i % 500}", "qty": 1, "pad": pad}, source="wms/b")
        props = spec.Basic.Properties(
            message_id=ev.id, message_type=ev.type, delivery_mode=2, headers=headers
        )
        out.append((ev.to_json_bytes(), props))
    return out


async def publish_all(
    url: str, queue: str, items: list[tuple[bytes, spec.Basic.Properties]]
) -> float:
    """Confirmed publishes, 500 in flight; returns messages/s."""
    conn = await aiormq.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        t0 = time.perf_counter()
        for i in range(0, len(items), 500):
            await asyncio.gather(
                *(
                    ch.basic_publish(body, routing_key=queue, properties=props)
                    for body, props in items[i : i + 500]
                )
            )
        return len(items) / (time.perf_counter() - t0)
    finally:
        await conn.close()


async def depth(url: str, queue: str) -> int:
    conn = await aiormq.connect(url)
    try:
        ch = await conn.channel()
        ok = await ch.queue_declare(queue, passive=True)
        return int(ok.message_count or 0)
    finally:
        await conn.close()


async def run(url: str, mongodb_url: str, n: int, body_bytes: int) -> None:
    await declare(url)
    items = messages(n, body_bytes)
    baseline = await publish_all(url, "dlqbench.baseline", items)
    await publish_all(url, QUEUE, items)
    settings = D.DlqSettings(
        amqp_url=url, mongodb_url=mongodb_url, admin_db=f"dlqbench_{uuid.uuid4().hex[:8]}"
    )

    t0 = time.perf_counter()
    [summary] = await D.list_queues(settings, [SERVICE])
    list_s = time.perf_counter() - t0

    cpu0 = time.process_time()
    o = await D.replay(settings, SERVICE, D.Selector(), D.ReplayOptions(to="dlqbench.events"))
    cpu = time.process_time() - cpu0
    left, arrived = await depth(url, QUEUE), await depth(url, "dlqbench.sink")

    print(f"messages                      {n:,} ({body_bytes} B bodies, failure headers)")
    print(
        f"bare confirmed publish        {baseline:,.0f} msg/s   (one write per message, for context)"
    )
    print(f"list (full walk, in place)    {list_s:.2f} s          ({summary.depth:,} messages)")
    print(
        f"replay                        {o.rate:,.0f} msg/s   ({o.done:,} in {o.elapsed_s:.2f} s, "
        f"client CPU {cpu / max(o.done, 1) * 1e6:.0f} us/msg)   target >= 2,000 msg/s"
    )
    print(
        f"after replay                  DLQ {left:,}, target queue {arrived:,}, failed {o.failed}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--body-bytes", type=int, default=600)
    args = ap.parse_args()
    with amqp_server() as base, isolated_vhost(base) as url, mongodb_server() as (murl, _):
        asyncio.run(run(url, murl, args.messages, args.body_bytes))


if __name__ == "__main__":
    main()
