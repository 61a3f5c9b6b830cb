"""Replicas and partitions: does a second availability replica add throughput, and how often
do replicas redo a batch after a write conflict?

    uv run python -m benchmarks.replicas_bench [--events 20000] [--skus 2000]
        [--configs 12x1,12x2,12x3,1x1,1x2]

Each configuration (`PARTITIONS x REPLICAS`) gets a vhost of its own on the local RabbitMQ and
a database of its own on one SecantusDB daemon; its replicas run as separate processes
(`distsync run availability`, DISTSYNC_PARTITIONS set). `inventory.adjusted` events are
published live to `wms.events` (confirmed) over SKUs x 3 locations; the run ends when the
replicas' /metrics count every event applied. Then every SKU is read back over HTTP and
compared with the sums published, and the inbox must hold exactly one entry per event. From
the replicas' /metrics: transactions redone after a write conflict as a share of committed
batches, and partition hand-offs. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aio_pika

from distsync_sim.testing import amqp_server, free_port, isolated_vhost, mongodb_server
from shared.inbox import count as inbox_count
from shared.runtime import mongo_client
from shared.topology import all_services, declare, full_topology

from .availability_bench import start
from .common import (
    CpuMeter,
    applied_count,
    bind_downstream,
    broker_pid,
    cpu_probe_ms,
    metric_total,
    wait_applied,
)
from .stack_bench import LOCATIONS, _read_back, _ready, events, publish_live

CONFIGS = "12x1,12x2,12x3,1x1,1x2"
LOGS = Path(tempfile.gettempdir()) / "distsync-replicas-bench"  # the replicas' own output


@dataclass
class Row:
    partitions: int
    replicas: int
    rate: float = 0.0
    positions: str = ""
    exact: bool = False
    inbox: int = 0
    batches: float = 0.0
    conflicts: float = 0.0
    handoffs: float = 0.0
    routed: float = 0.0
    cpu: str = ""
    error: str = ""

    @property
    def conflict_share(self) -> float:
        return self.conflicts / self.batches if self.batches else float("nan")


async def run_config(
    base: str,
    mongo: str,
    partitions: int,
    replicas: int,
    n: int,
    skus: int,
    seed: int,
    db_pid: int | None = None,
) -> Row:
    """One configuration on a vhost and database of its own."""
    row = Row(partitions, replicas)
    items, expected = events(n, skus, seed)
    db = f"bench_rep_{partitions}x{replicas}_" + uuid.uuid4().hex[:6]
    client = mongo_client(mongo)
    with isolated_vhost(base) as amqp:
        conn = await aio_pika.connect(amqp)
        av = [s for s in all_services() if s.name == "availability"]
        await declare(
            await conn.channel(), full_topology(av, partitions={"availability": partitions})
        )
        await conn.close()
        await bind_downstream(amqp, "availability.events", "availability.#")
        ports = tuple(free_port() for _ in range(replicas))
        log = open(LOGS / f"{partitions}x{replicas}.log", "ab")
        procs = [start(amqp, mongo, db, p, log, DISTSYNC_PARTITIONS=str(partitions)) for p in ports]
        try:
            await _ready(list(ports))
            pids: dict[str, int | None] = {f"replica{i + 1}": p.pid for i, p in enumerate(procs)}
            # the shared parts too: the database server, the broker, this publisher
            pids |= {"database": db_pid, "broker": broker_pid(), "publisher": os.getpid()}
            cpu = CpuMeter(pids).start()
            before = applied_count(*ports)
            t0 = await publish_live(amqp, items)
            t1 = await wait_applied(list(ports), before + n, timeout=600)
            cpu.stop()
            row.rate = n / (t1 - t0)
            row.cpu = cpu.per_event_ms(n)
            row.batches = metric_total(ports, "distsync_batch_messages_count")
            row.conflicts = metric_total(
                ports, "distsync_transaction_retries_total", 'reason="conflict"'
            )
            row.handoffs = metric_total(ports, "distsync_partition_handoffs_total")
            row.routed = metric_total(ports, "distsync_partition_routed_total")
            row.positions = await _read_back(ports[0], expected)
            row.inbox = int(await inbox_count(client[db]))
            right = re.search(r"(\d+)/(\d+) positions right", row.positions)
            row.exact = bool(right and right[1] == right[2] and row.inbox == n)
        except (TimeoutError, OSError) as e:
            row.error = repr(e)[:200]
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(60)
            log.close()
            await client.drop_database(db)
            await client.close()
    return row


def table(rows: list[Row], n: int) -> list[str]:
    out = [
        "| partitions | replicas | events/s | totals exact | inbox | batches | conflict redos "
        "| redos / batches | hand-offs | routed |",
        "|---:|---:|---:|:--|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.error:
            out.append(f"| {r.partitions} | {r.replicas} | FAILED: {r.error} |||||||")
            continue
        out.append(
            f"| {r.partitions} | {r.replicas} | {r.rate:,.0f} | {'yes' if r.exact else 'NO'} "
            f"| {r.inbox:,}/{n:,} | {r.batches:,.0f} | {r.conflicts:,.0f} "
            f"| {r.conflict_share:.2%} | {r.handoffs:,.0f} | {r.routed:,.0f} |"
        )
    return out


def targets(rows: list[Row]) -> list[str]:
    """The issue's targets, for each partition count measured with one and two replicas."""
    out = []
    by = {(r.partitions, r.replicas): r for r in rows if not r.error}
    for p in sorted({r.partitions for r in rows}, reverse=True):
        one, two = by.get((p, 1)), by.get((p, 2))
        if one and two:
            met = "met" if two.rate >= one.rate else "NOT met"
            out.append(
                f"partitions={p}: two replicas / one = {two.rate / one.rate:.2f}x "
                f"(target >= 1.0x: {met})"
            )
    for r in rows:
        if r.replicas > 1 and not r.error:
            share = r.conflict_share
            met = "met" if not math.isnan(share) and share < 0.01 else "NOT met"
            out.append(
                f"partitions={r.partitions}, {r.replicas} replicas: conflict redos "
                f"{share:.2%} of batches (target < 1 %: {met})"
            )
    return out


def _uptime() -> str:
    """The machine is shared: its load during the run goes with the figures."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=20_000, help="events per configuration")
    ap.add_argument("--skus", type=int, default=2_000, help="SKUs (x 3 locations)")
    ap.add_argument(
        "--configs", default=CONFIGS, help=f"PARTITIONSxREPLICAS, comma-separated ({CONFIGS})"
    )
    args = ap.parse_args()
    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",") if c]
    up_before = _uptime()
    probe = cpu_probe_ms()
    rows: list[Row] = []
    LOGS.mkdir(exist_ok=True)
    print(f"replica logs: {LOGS}/PARTITIONSxREPLICAS.log", flush=True)
    t_run = time.perf_counter()
    with amqp_server() as base, mongodb_server() as (mongo, srv):
        db_pid = srv.proc.pid if srv and srv.proc else None
        for p, r in configs:
            row = await run_config(base, mongo, p, r, args.events, args.skus, 1, db_pid)
            rows.append(row)
            print(
                f"partitions={p} replicas={r}: {row.rate:,.0f} events/s; {row.positions}; "
                f"inbox {row.inbox}; CPU ms/event {row.cpu} {row.error}",
                flush=True,
            )
    print(
        f"\ndistsync replicas benchmark: {args.events:,} inventory.adjusted events live through "
        f"wms.events per configuration, {args.skus:,} SKUs x {len(LOCATIONS)} locations"
    )
    print(
        f"  uptime before: {up_before}\n  uptime after : {_uptime()}\n  "
        f"{os.cpu_count()} cores; CPU probe {probe:.0f} ms before, {cpu_probe_ms():.0f} ms after; "
        f"whole run {time.perf_counter() - t_run:.0f} s"
    )
    for line in table(rows, args.events):
        print("  " + line)
    for line in targets(rows):
        print("  " + line)


if __name__ == "__main__":
    asyncio.run(main())
