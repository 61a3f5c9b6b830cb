"""Whole-system benchmark: sustained events/s through all five services, visibility latency,
peak RSS per service process, and the bare baseline of the runtime benchmark measured in the
same run.

    uv run python -m benchmarks.e2e_bench [--events 6000] [--latency-rate 0] [--seconds 60]
        [--replicas availability=2] [--partitions 1]

`--replicas` and `--partitions` are the simulator's (`distsync simulate --help`): the default is
one process per service, no partitions. Two replicas without partitions take batches from one
queue over the same documents and redo transactions after write conflicts; with `--partitions`
(at least the replicas) each replica owns its partitions' documents, and every service pays for
the router's extra hop.

Prints figures; asserts nothing. Runs the simulator in spawn mode (SecantusDB daemon started
here unless MONGODB_URL is set, a throwaway vhost on the local RabbitMQ). The simulator's
faults are off: this measures the system, not the fault injection. Still every result is
checked against the ground truth, and the figures are flagged if anything was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import aio_pika

from distsync_sim.simulate.runner import Options, run
from distsync_sim.simulate.scale import partitions_env, replica_counts
from distsync_sim.testing import amqp_server, isolated_vhost, mongodb_server
from shared.topology import declare, service_topology

from .bench_service import SERVICE
from .runtime_bench import baseline_throughput


def _opts(
    events: int,
    rate: float,
    seconds: float | None,
    seed: int,
    replicas: dict[str, int],
    partitions: int | None,
) -> Options:
    return Options(
        events=events,
        rate=rate,
        duration=seconds,
        seed=seed,
        skus=300,
        dup_rate=0.0,
        bad_rate=0.0,
        window=1,
        spawn=True,
        replicas=dict(replicas),
        service_env=partitions_env(partitions),
        command="python -m benchmarks.e2e_bench",
    )


async def baseline(n: int) -> float:
    with amqp_server() as base, isolated_vhost(base) as amqp, mongodb_server() as (mongo, _):
        conn = await aio_pika.connect(amqp)
        await declare(await conn.channel(), service_topology(SERVICE))
        await conn.close()
        return await baseline_throughput(amqp, mongo, n)


def _applied(report: dict[str, Any]) -> int:
    return sum(s["consumed"].get("applied", 0) for s in report.get("services", {}).values())


def _lat(d: dict[str, Any]) -> str:
    if not d or not d.get("samples"):
        return "no samples"
    return (
        f"p50 {d['p50_ms']:.0f} ms, p95 {d['p95_ms']:.0f} ms, p99 {d['p99_ms']:.0f} ms "
        f"({d['samples']} samples)"
    )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=6000, help="events for the throughput run")
    ap.add_argument(
        "--latency-rate", type=float, default=0, help="events/s offered (0: half the throughput)"
    )
    ap.add_argument("--seconds", type=float, default=60, help="length of the latency run")
    ap.add_argument("--baseline-events", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--replicas", action="append", help="N or SERVICE=N, as `distsync simulate` takes it"
    )
    ap.add_argument("--partitions", type=int, default=None, help="DISTSYNC_PARTITIONS")
    args = ap.parse_args()
    replicas = replica_counts(args.replicas)

    flood = await run(_opts(args.events, 0, None, args.seed, replicas, args.partitions))
    t = flood["timing"]
    events_s = t["throughput"]
    msgs_s = _applied(flood) / max(t["processing_s"], 1e-6)
    rate = args.latency_rate or max(5.0, round(events_s / 2))
    steady = await run(_opts(10**9, rate, args.seconds, args.seed + 1, replicas, args.partitions))
    base = await baseline(args.baseline_events)

    rss: dict[str, float] = {}
    for r in (flood, steady):
        for name, mb in r.get("rss_mb", {}).items():
            rss[name] = max(rss.get(name, 0.0), mb)
    print("distsync whole-system benchmark (simulated distributor, all five services)")
    print(
        f"  machine: {os.cpu_count()} cores; database: "
        f"{'MONGODB_URL' if os.environ.get('MONGODB_URL') else 'SecantusDB daemon (one, shared)'}"
        f"; replicas {', '.join(f'{k} x{v}' for k, v in sorted(replicas.items())) or 'x1'}"
        f", partitions {args.partitions or 1}"
    )
    print(
        f"  sustained: {events_s:.0f} source events/s ({flood['events']['business']} events, "
        f"all processed in {t['processing_s']:.1f} s), {msgs_s:.0f} messages/s consumed "
        f"over all services ({_applied(flood)} applied, derived events included)"
    )
    print(f"  bare baseline (aio-pika + bulk writes, same txn), same run: {base:.0f} events/s")
    print(
        f"  ratio: source events {events_s / base:.1%} of the baseline; consumed messages "
        f"{msgs_s / base:.1%}"
    )
    lat = steady["latency"]
    print(
        f"  visibility latency at {rate:.0f} events/s offered for {args.seconds:.0f} s "
        f"({steady['events']['business']} events):"
    )
    for k in ("availability.changed", "order.status_changed", "all"):
        print(f"    {k:<22} {_lat(lat.get(k, {}))}")
    print(
        "  peak RSS per service process (VmHWM): "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(rss.items()))
    )
    print("  where the time went in the throughput run (live operation, go-live left out):")
    print(
        "    instance            applied   CPU ms/msg  mean batch  handler ms/msg  "
        "txn retries  outbox delivery"
    )
    cost = flood.get("live_cost", {})
    for name, st in sorted(flood.get("services", {}).items()):
        c = cost.get(name, {})
        per_msg = c.get("cpu_ms_per_message")
        cpu = f"{per_msg:10.2f}" if per_msg else f"{'-':>10}"
        batch = f"{st['avg_batch']:10.1f}" if st.get("avg_batch") else f"{'-':>10}"
        handler = st.get("handler_s_per_message")
        handler_ms = f"{handler * 1000:14.2f}" if handler else f"{'-':>14}"
        delivery = st.get("outbox_delivery_s")
        out = f"{delivery * 1000:10.0f} ms" if delivery else f"{'-':>13}"
        retries = sum(st.get("transaction_retries", {}).values())
        applied = c.get("applied", 0)
        print(f"    {name:<18} {applied:8d}  {cpu}  {batch}  {handler_ms}  {retries:11d}  {out}")
    db = cost.get("database", {})
    if db.get("cpu_ms_per_message"):
        print(f"    database: {db['cpu_ms_per_message']:.2f} ms CPU per message applied")
    print(
        "    (mean batch, handler time, retries and outbox delivery are each instance's own "
        "figures since it started)"
    )
    for name, r in (("throughput", flood), ("latency", steady)):
        if not r["ok"]:
            wrong = {k: v["wrong"] for k, v in r["compare"].items() if v["wrong"]}
            print(
                f"  NOTE: the {name} run was not clean: wrong {wrong}, "
                f"lost {r['integrity']['lost']}, problems {r['problems']}"
            )
            for k, v in r["compare"].items():
                for d in v["diffs"][:3]:
                    print(f"    {k}: {d}")


if __name__ == "__main__":
    asyncio.run(main())
