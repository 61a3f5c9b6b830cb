"""`distsync simulate` end to end: find or start the services, publish the distributor's day
with its faults, wait until everything is drained, compare with the ground truth, report."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import os
import platform
import random
import shlex
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distsync_ops.stack import resolve
from distsync_sim.simulate import checks, compare, costs, observe, snapshot, truth_orders
from distsync_sim.simulate import cluster as cl
from distsync_sim.simulate.faults import BadMessage, ChaosAction, chaos_plan
from distsync_sim.simulate.model import LOCATIONS, SimConfig, World
from distsync_sim.simulate.observe import Listener, Publisher
from distsync_sim.simulate.progress import Progress
from distsync_sim.simulate.stream import Stream
from distsync_sim.simulate.truth import Replay
from distsync_sim.testing import isolated_vhost
from shared.topology import all_services

DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
DEV_MONGO = "mongodb://127.0.0.1:27117/?directConnection=true"


@dataclass
class Options:
    events: int = 10_000
    rate: float = 200.0
    duration: float | None = None
    seed: int = 1
    skus: int | None = None
    chaos: bool = False
    chaos_actions: tuple[str, ...] | None = None
    spawn: bool | None = None
    dup_rate: float = 0.02
    bad_rate: float = 0.002
    window: int = 8
    drain_timeout: float | None = None
    progress: bool = True
    workdir: str | None = None
    keep: bool = False
    replicas: dict[str, int] = field(default_factory=dict)
    service_env: dict[str, str] = field(default_factory=dict)  # DISTSYNC_* for spawned services
    command: str = ""
    snapshot: str | None = None  # write the ground truth's stock snapshot here, and reconcile it
    snapshot_drift: int = 0  # positions the snapshot gets wrong on purpose

    def sku_count(self) -> int:
        return self.skus or max(50, min(2000, self.events // 40))


async def run(opts: Options) -> dict[str, Any]:
    """The whole simulation; returns the report (its `ok` decides the exit code)."""
    started = time.time()
    found = resolve().values  # the stack `distsync up` runs, where the environment says nothing
    amqp_base = os.environ.get("AMQP_URL", found.get("amqp_url", DEFAULT_AMQP))
    spawn = opts.spawn if opts.spawn is not None else not cl.services_answer()
    prog = Progress(opts.events, opts.progress)
    run_id = uuid.uuid4().hex[:8]
    workdir = Path(opts.workdir or tempfile.mkdtemp(prefix="distsync-sim-"))
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if spawn:
            amqp = stack.enter_context(isolated_vhost(amqp_base))
            prog.line(f"starting SecantusDB and the five services (work dir {workdir})")
            cluster = await asyncio.to_thread(
                cl.spawn,
                amqp,
                workdir,
                run_id,
                replicas=opts.replicas,
                mongodb_url=os.environ.get("MONGODB_URL") or None,
                extra_env=opts.service_env,
            )
        else:
            mongo = os.environ.get("MONGODB_URL", found.get("mongodb_url", DEV_MONGO))
            cluster = cl.attach(amqp_base, mongo)
            prog.line("using the services running on 127.0.0.1:8001-8005")
            await asyncio.to_thread(cluster.wait_ready, 30.0)
        try:
            report = await _simulate(opts, cluster, run_id, prog, started, spawn)
        finally:
            await asyncio.to_thread(cluster.stop_all)
            if cluster.db_server is not None:
                cluster.db_server.stop()
            elif spawn:
                await _drop_databases(cluster)
        report["rss_mb"] = {
            p.name: round(p.peak_rss_mb, 1) for p in cluster.procs.values() if p.peak_rss_mb
        }
        if report["ok"] and not opts.keep and not opts.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            report["workdir"] = str(workdir)
    return report


async def _simulate(
    opts: Options,
    cluster: cl.Cluster,
    run_id: str,
    prog: Progress,
    started: float,
    spawn: bool,
) -> dict[str, Any]:
    tag = "" if spawn else f"S{run_id[:5].upper()}-"
    world = World(SimConfig(seed=opts.seed, skus=opts.sku_count(), tag=tag))
    pub = Publisher(cluster.amqp_url)
    await pub.open()
    listener = Listener(cluster.amqp_url, f"distsync-simulate.{run_id}")
    await listener.start()
    stream = Stream(
        world,
        pub,
        seed=opts.seed,
        window=opts.window,
        dup_rate=opts.dup_rate,
        bad_rate=opts.bad_rate,
    )
    # the services that consume: the ingress binds nothing and keeps no inbox
    bindings = {s.name: set(s.bindings()) for s in all_services() if s.bindings()}

    def route(b: BadMessage) -> BadMessage:
        b.services = tuple(s for s, keys in bindings.items() if (b.exchange, b.routing_key) in keys)
        return b

    actions: list[ChaosAction] = []
    if opts.chaos or opts.chaos_actions:
        wanted = opts.chaos_actions or ("kill", "broker", "database")
        actions = chaos_plan(random.Random(opts.seed), tuple(wanted), tuple(cl.SERVICES))
    chaos_log: list[dict[str, Any]] = []
    chaos_tasks: list[asyncio.Task[None]] = []
    pending = list(actions)
    rss_task = asyncio.create_task(_sample_rss(cluster))

    async def on_event(done: int) -> None:
        while pending and done >= pending[0].at * opts.events:
            a = pending.pop(0)
            chaos_tasks.append(asyncio.create_task(_chaos(a, cluster, stream, chaos_log, prog)))
        prog.update(
            done,
            f"dup {stream.delivery.duplicates} bad {stream.counters.bad}",
        )

    problems: list[str] = []
    try:
        prog.line(f"go-live: item master for {len(world.items)} SKUs and opening counts")
        t_boot = time.monotonic()
        expect = functools.partial(checks.expected_inbox, stream, listener, bindings)
        boot_timeout = max(180.0, len(world.items) / 10)

        async def item_master_taken_in() -> None:
            d = await checks.drain(cluster, listener, boot_timeout, prog, expect)
            if not d["drained"]:
                problems.append(f"item master not taken in: {d['last']}")

        await stream.bootstrap(item_master_taken_in)
        boot = await checks.drain(cluster, listener, boot_timeout * 3, prog, expect)
        if not boot["drained"]:
            problems.append(f"go-live events not drained: {boot['last']}")
        bootstrap_s = time.monotonic() - t_boot
        live0 = await costs.read(cluster)
        t_pub = time.monotonic()
        await stream.run(opts.events, opts.rate, opts.duration, on_event, route)
        if chaos_tasks:
            await asyncio.gather(*chaos_tasks)
        publish_s = time.monotonic() - t_pub
        prog.update(stream.counters.bootstrap + stream.counters.business, "", force=True)
        prog.line("published; waiting for the services to drain")
        timeout = opts.drain_timeout or max(180.0, stream.counters.business / 40)
        t_drain = time.monotonic()
        drain = await checks.drain(cluster, listener, timeout, prog, expect)
        drain_s = time.monotonic() - t_drain
        if not drain["drained"]:
            problems.append(f"not drained within {timeout:.0f} s: {drain['last']}")
        dead = cluster.dead()
        if dead:
            problems.append(f"service process(es) not running at the end: {', '.join(dead)}")
        prog.line("reading the services' APIs and comparing with the ground truth")
        t_check = time.monotonic()
        replay = Replay()
        for ev in stream.log.values():
            replay.add(ev)
        events_sorted = replay.sorted()
        truth = replay.run()
        otruth = truth_orders.orders(events_sorted, truth)
        comparisons = await compare.everything(cluster.urls, truth, otruth, tag)
        recon = None
        if opts.snapshot and cluster.mongodb_url:
            recon = await snapshot.snapshot_report(
                truth,
                events_sorted,
                Path(opts.snapshot),
                drift=opts.snapshot_drift,
                seed=opts.seed,
                mongodb_url=cluster.mongodb_url,
                availability_db=cluster.db_names["availability"],
                sku_prefix=tag,
            )
        ours = None if spawn else set(stream.log) | set(listener.seen)
        dlq = await checks.dead_letters(pub, stream.bad, ours)
        pages = await observe.scrape(
            [p.url for p in cluster.procs.values()] or cluster.urls.values()
        )
        names = {p.url: p.name for p in cluster.procs.values()} or {
            u: s for s, u in cluster.urls.items()
        }
        services = {names[u]: observe.service_stats(t) for u, t in pages.items()}
        live_cost = costs.spent(live0, await costs.read(cluster)) if cluster.procs else {}
        integrity = await checks.integrity(cluster, stream, listener, bindings, truth, otruth)
        if cluster.spawned and integrity["method"].startswith("skipped"):
            # with a database of our own the check must run: a skip would pass a run unchecked
            problems.append(f"lost / applied-twice check did not run: {integrity['method']}")
        checks_s = time.monotonic() - t_check
    finally:
        rss_task.cancel()
        with contextlib.suppress(BaseException):
            await rss_task
        await listener.close(delete=not spawn)
        await pub.close()
    samples: list[tuple[str, str, float, float | None, float]] = []
    latency = checks.latencies(stream, listener, chaos_log, samples)
    if opts.workdir:  # every latency sample, for a timeline (docs/simulation.md)
        await asyncio.to_thread(_write_samples, Path(opts.workdir) / "latency.csv", samples)
    wrong = sum(c.wrong for c in comparisons.values())
    ok = (
        not problems
        and wrong == 0
        and integrity["lost"] == 0
        and integrity["applied_twice"] == 0
        and dlq["unexpected"] == 0
        and dlq["missing"] == 0
        and dlq["wrong_reason"] == 0
        and (recon is None or recon["ok"])
    )
    total_s = time.monotonic() - t_pub
    # the last event a service published: the end of processing, without the drain check's
    # own waiting
    busy_s = max(publish_s, listener.last - t_pub)
    c = stream.counters
    return {
        "ok": ok,
        "command": opts.command,
        "live_cost": live_cost,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, database "
        f"{'SecantusDB (spawned)' if cluster.db_server else cluster.mongodb_url}",
        "mode": "spawn" if spawn else "no-spawn",
        "seed": opts.seed,
        "config": {
            "skus": len(world.items),
            "locations": list(LOCATIONS),
            "events": opts.events,
            "rate": opts.rate,
            "duration": opts.duration,
            "window": opts.window,
            "dup_rate": opts.dup_rate,
            "bad_rate": opts.bad_rate,
            "chaos": [a.__dict__ for a in actions],
            "replicas": opts.replicas,
            "partitions": cluster.partitions,
        },
        "events": {
            "business": c.bootstrap + c.business,
            "bootstrap": c.bootstrap,
            "duplicates": c.duplicates_sent,
            "bad": c.bad,
            "overtaken": stream.delivery.overtaken,
            "publish_retries": pub.retries,
            "by_type": dict(sorted(c.by_type.items(), key=lambda x: -x[1])),
            "processes": world.stats(),
        },
        "timing": {
            "bootstrap_s": round(bootstrap_s, 2),
            "publish_s": round(publish_s, 2),
            "publish_rate": round(c.business / max(publish_s, 1e-6), 1),
            "drain_s": round(drain_s, 2),
            "total_s": round(total_s, 2),
            "checks_s": round(checks_s, 2),
            "processing_s": round(busy_s, 2),
            "throughput": round(c.business / max(busy_s, 1e-6), 1),
        },
        "chaos": chaos_log,
        "compare": {k: v.as_dict() for k, v in comparisons.items()},
        "dlq": dlq,
        "integrity": integrity,
        "latency": latency,
        "drain": drain,
        "services": services,
        "problems": problems,
        "reconcile": recon,
    }


async def _drop_databases(cluster: cl.Cluster) -> None:
    """A spawned run on someone else's MongoDB leaves nothing behind."""
    from pymongo import AsyncMongoClient

    if not cluster.mongodb_url:
        return
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        cluster.mongodb_url, serverSelectionTimeoutMS=3000
    )
    try:
        for name in cluster.db_names.values():
            with contextlib.suppress(Exception):
                await client.drop_database(name)
    finally:
        await client.close()


async def _sample_rss(cluster: cl.Cluster) -> None:
    while True:
        cluster.sample_rss()
        await asyncio.sleep(1.0)


async def _chaos(
    a: ChaosAction,
    cluster: cl.Cluster,
    stream: Stream,
    log: list[dict[str, Any]],
    prog: Progress,
) -> None:
    t0 = time.time()
    rec: dict[str, Any] = {"action": a.action, "target": a.target, "started": t0}
    if a.action == "kill":
        p = cluster.proc(a.target or "")
        if p is None:
            rec["summary"] = f"kill {a.target}: skipped (the simulator did not start it)"
        else:
            prog.line(f"chaos: SIGKILL {p.name} (pid {p.popen.pid if p.popen else '?'})")
            await asyncio.to_thread(p.kill)
            await asyncio.sleep(a.down_s)
            await asyncio.to_thread(cluster.restart, p.name)
            await asyncio.to_thread(cluster.wait_ready, 120.0, [p.name])
            rec["summary"] = (
                f"SIGKILL {p.name} at {time.strftime('%H:%M:%S', time.localtime(t0))}, "
                f"restarted after {a.down_s:.1f} s, ready again after {time.time() - t0:.1f} s"
            )
    elif a.action == "broker":
        if not cl.broker_is_local(cluster.amqp_url):
            rec["summary"] = "broker restart: skipped (RabbitMQ is not local)"
        else:
            prog.line("chaos: rabbitmqctl stop_app / start_app")
            stream.paused.clear()
            try:
                down = await asyncio.to_thread(cl.restart_broker, a.down_s, cluster.amqp_url)
            finally:
                stream.paused.set()
            rec["summary"] = f"RabbitMQ stop_app/start_app, unreachable for {down:.1f} s"
    elif a.action == "database":
        if cluster.db_server is None:
            rec["summary"] = "database stop: skipped (the simulator did not start it)"
        else:
            prog.line(f"chaos: stopping SecantusDB for {a.down_s:.0f} s")
            await asyncio.to_thread(cluster.stop_database)
            await asyncio.sleep(a.down_s)
            await asyncio.to_thread(cluster.start_database)
            rec["summary"] = f"SecantusDB stopped for {time.time() - t0:.1f} s, then restarted"
    rec["ended"] = time.time()
    log.append(rec)


def _write_samples(path: Path, samples: list[tuple[str, str, float, float | None, float]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["type", "source_id", "source_time", "published_at", "seen_at", "latency_ms"])
        for typ, root, t, pub, at in samples:
            w.writerow(
                [
                    typ,
                    root,
                    f"{t:.3f}",
                    "" if pub is None else f"{pub:.3f}",
                    f"{at:.3f}",
                    f"{(at - t) * 1000:.1f}",
                ]
            )


def command_line(argv: list[str] | None = None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return "distsync " + " ".join(shlex.quote(a) for a in args)
