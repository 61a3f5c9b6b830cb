"""`distsync simulate` end to end: find or start the services, publish the distributor's day
with its faults, wait until everything is drained, compare with the ground truth, report."""

from __future__ import annotations

import asyncio
import contextlib
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

from shared.settings import ServiceSettings
from shared.simulate import cluster as cl
from shared.simulate import compare, observe, truth_orders
from shared.simulate.faults import BadMessage, ChaosAction, chaos_plan
from shared.simulate.model import LOCATIONS, SimConfig, World
from shared.simulate.observe import Listener, Publisher
from shared.simulate.report import latency_summary
from shared.simulate.stream import Stream
from shared.simulate.truth import Replay
from shared.testing import isolated_vhost
from shared.topology import all_services, full_topology

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
    window: int = 16
    drain_timeout: float | None = None
    progress: bool = True
    workdir: str | None = None
    keep: bool = False
    replicas: dict[str, int] = field(default_factory=dict)
    service_env: dict[str, str] = field(default_factory=dict)  # DISTSYNC_* for spawned services
    command: str = ""

    def sku_count(self) -> int:
        return self.skus or max(50, min(2000, self.events // 40))


class Progress:
    """A progress bar on stderr (a line every 10% when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.last = 0.0
        self.last_decile = -1
        self.note = ""

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        frac = min(1.0, done / max(1, self.total))
        if self.tty:
            if not force and now - self.last < 0.25:
                return
            self.last = now
            bar = "#" * int(frac * 30)
            rate = done / max(1e-6, now - self.t0)
            sys.stderr.write(
                f"\r[{bar:<30}] {frac:4.0%} {done}/{self.total} {rate:5.0f} ev/s {extra} "
                f"{self.note}"[:160].ljust(100)
            )
            sys.stderr.flush()
        elif int(frac * 10) > self.last_decile or force:
            self.last_decile = int(frac * 10)
            print(f"simulate: {frac:.0%} {done}/{self.total} {extra} {self.note}", file=sys.stderr)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            sys.stderr.write("\r" + " " * 110 + "\r")
        print(f"simulate: {text}", file=sys.stderr)


async def run(opts: Options) -> dict[str, Any]:
    """The whole simulation; returns the report (its `ok` decides the exit code)."""
    started = time.time()
    amqp_base = os.environ.get("AMQP_URL", DEFAULT_AMQP)
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
            mongo = os.environ.get("MONGODB_URL", DEV_MONGO)
            cluster = cl.attach(amqp_base, mongo)
            prog.line("using the services running on 127.0.0.1:8001-8005")
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
    bindings = {s.name: set(s.bindings()) for s in all_services()}

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
        await stream.bootstrap()
        boot = await _drain(cluster, listener, max(180.0, stream.counters.bootstrap / 20), prog)
        if not boot["drained"]:
            problems.append(f"go-live events not drained: {boot['last']}")
        bootstrap_s = time.monotonic() - t_boot
        t_pub = time.monotonic()
        await stream.run(opts.events, opts.rate, opts.duration, on_event, route)
        if chaos_tasks:
            await asyncio.gather(*chaos_tasks)
        publish_s = time.monotonic() - t_pub
        prog.update(stream.counters.bootstrap + stream.counters.business, "", force=True)
        prog.line("published; waiting for the services to drain")
        timeout = opts.drain_timeout or max(180.0, stream.counters.business / 40)
        t_drain = time.monotonic()
        drain = await _drain(cluster, listener, timeout, prog)
        drain_s = time.monotonic() - t_drain
        if not drain["drained"]:
            problems.append(f"not drained within {timeout:.0f} s: {drain['last']}")
        dead = cluster.dead()
        if dead:
            problems.append(f"service process(es) not running at the end: {', '.join(dead)}")
        prog.line("reading the services' APIs and comparing with the ground truth")
        replay = Replay()
        for ev in stream.log.values():
            replay.add(ev)
        events_sorted = replay.sorted()
        truth = replay.run()
        otruth = truth_orders.orders(events_sorted, truth)
        comparisons = await compare.everything(cluster.urls, truth, otruth, tag)
        dlq = await _dlq(pub, stream.bad)
        pages = await observe.scrape(
            [p.url for p in cluster.procs.values()] or cluster.urls.values()
        )
        names = {p.url: p.name for p in cluster.procs.values()} or {
            u: s for s, u in cluster.urls.items()
        }
        services = {names[u]: observe.service_stats(t) for u, t in pages.items()}
        integrity = await _integrity(cluster, stream, listener, bindings, truth, otruth)
    finally:
        rss_task.cancel()
        with contextlib.suppress(BaseException):
            await rss_task
        await listener.close(delete=not spawn)
        await pub.close()
    latency = _latencies(stream, listener, chaos_log)
    wrong = sum(c.wrong for c in comparisons.values())
    ok = (
        not problems
        and wrong == 0
        and integrity["lost"] == 0
        and integrity["applied_twice"] == 0
        and dlq["unexpected"] == 0
        and dlq["missing"] == 0
        and dlq["wrong_reason"] == 0
    )
    total_s = time.monotonic() - t_pub
    # the last event a service published: the end of processing, without the drain check's
    # own waiting
    busy_s = max(publish_s, listener.last - t_pub)
    c = stream.counters
    return {
        "ok": ok,
        "command": opts.command,
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
                down = await asyncio.to_thread(cl.restart_broker, a.down_s)
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


def _queue_names() -> list[str]:
    s = ServiceSettings()
    topo = full_topology(all_services(), retry_delays_s=s.retry_delays_s)
    return [q.name for q in topo.queues if not q.name.endswith(".dlq") and q.name != "unrouted"]


async def _drain(
    cluster: cl.Cluster, listener: Listener, timeout: float, prog: Progress
) -> dict[str, Any]:
    """Queues empty, outboxes sent, consumption stable and the listener quiet, 3 polls running."""
    from pymongo import AsyncMongoClient

    assert listener.conn is not None
    names = _queue_names()
    instance_urls = [p.url for p in cluster.procs.values()] or list(cluster.urls.values())
    mongo: AsyncMongoClient[Any] | None = None
    if cluster.spawned and cluster.mongodb_url:
        mongo = AsyncMongoClient(cluster.mongodb_url, serverSelectionTimeoutMS=3000, tz_aware=True)
    deadline = time.monotonic() + timeout
    streak, prev = 0, -1.0
    last: dict[str, Any] = {}
    try:
        while time.monotonic() < deadline:
            depths = await observe.queue_depths(listener.conn, names)
            pages = await observe.scrape(instance_urls)
            consumed = sum(
                observe.parse_metric(t, "distsync_messages_consumed_total") for t in pages.values()
            )
            backlog = sum(
                observe.parse_metric(t, "distsync_outbox_backlog") for t in pages.values()
            )
            if mongo is not None:
                with contextlib.suppress(Exception):
                    backlog = 0
                    for db in cluster.db_names.values():
                        backlog += await observe.outbox_backlog(mongo[db])
            busy = {n: d for n, d in depths.items() if d != 0}
            quiet = time.monotonic() - listener.last > 1.0
            ok = not busy and backlog == 0 and consumed == prev and quiet
            last = {"queues": busy, "outbox_backlog": backlog, "consumed": consumed}
            streak = streak + 1 if ok else 0
            prev = consumed
            prog.note = f"draining: {sum(d for d in busy.values() if d > 0)} queued"
            prog.update(prog.total, "", force=False)
            if streak >= 3:
                return {"drained": True, "last": last}
            await asyncio.sleep(0.5)
    finally:
        if mongo is not None:
            await mongo.close()
        prog.note = ""
    return {"drained": False, "last": last}


async def _dlq(pub: Publisher, bad: list[BadMessage]) -> dict[str, Any]:
    assert pub.conn is not None
    entries = await observe.read_dlqs(pub.conn, pub.url, cl.SERVICES)
    expected = {(svc, b.message_id): b for b in bad for svc in b.services}
    details: list[dict[str, Any]] = []
    found = wrong = unexpected = 0
    seen: set[tuple[str, str | None]] = set()
    by_kind: dict[str, int] = {}
    for e in entries:
        key = (e.service, e.message_id)
        b = expected.get((e.service, e.message_id or ""))
        by_kind[e.kind or "?"] = by_kind.get(e.kind or "?", 0) + 1
        if b is None or key in seen:
            unexpected += 1
            details.append(
                {
                    "unexpected": e.service,
                    "id": e.message_id,
                    "kind": e.kind,
                    "type": e.event_type,
                    "reason": e.reason,
                }
            )
            continue
        seen.add(key)
        found += 1
        if e.kind != b.kind:
            wrong += 1
            details.append(
                {
                    "wrong_reason": e.service,
                    "id": e.message_id,
                    "expected": b.kind,
                    "actual": e.kind,
                    "reason": e.reason,
                }
            )
    missing = [k for k in expected if k not in seen]
    for svc, mid in missing[:10]:
        b = expected[(svc, mid)]
        details.append({"missing": svc, "id": mid, "kind": b.kind, "note": b.note})
    return {
        "expected": len(expected),
        "found": found,
        "missing": len(missing),
        "wrong_reason": wrong,
        "unexpected": unexpected,
        "by_kind": by_kind,
        "injected_by_kind": {k: sum(1 for b in bad if b.kind == k) for k in {b.kind for b in bad}},
        "details": details[:50],
    }


async def _integrity(
    cluster: cl.Cluster,
    stream: Stream,
    listener: Listener,
    bindings: dict[str, set[tuple[str, str]]],
    truth: Any,
    otruth: truth_orders.OrderTruth,
) -> dict[str, Any]:
    """Lost: an event routed to a service that is not in its inbox. Applied twice: an event id
    recorded twice in one aggregate's own history."""
    from pymongo import AsyncMongoClient

    if not cluster.mongodb_url:
        return {"lost": 0, "applied_twice": 0, "method": "skipped: no database URL"}
    expected: dict[str, list[str]] = {s: [] for s in bindings}
    for ev in stream.log.values():
        for svc, keys in bindings.items():
            if (ev.exchange, ev.type) in keys:
                expected[svc].append(ev.id)
    derived = 0
    for eid, s in listener.seen.items():
        for svc, keys in bindings.items():
            if (s.exchange, s.type) in keys:
                expected[svc].append(eid)
                derived += 1
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        cluster.mongodb_url, serverSelectionTimeoutMS=5000, tz_aware=True
    )
    try:
        lost: dict[str, int] = {}
        examples: list[dict[str, str]] = []
        for svc, ids in expected.items():
            db = client[cluster.db_names[svc]]
            got = await observe.found_ids(db, "inbox", ids)
            missing = [i for i in ids if i not in got]
            lost[svc] = len(missing)
            for i in missing[:5]:
                src = stream.log.get(i)
                t = src.type if src else (listener.seen[i].type if i in listener.seen else "?")
                examples.append({"service": svc, "id": i, "type": t})
        agg_ids: dict[str, list[str]] = {
            "availability": sorted({sku for sku, _ in truth.positions}),
            "order-status": sorted(otruth.statuses),
            "returns": sorted(truth.rmas),
            "carrier-tracking": sorted(otruth.shipments),
            "receipt": sorted(truth.pos),
        }
        dbs = {svc: client[name] for svc, name in cluster.db_names.items()}
        twice = await observe.applied_twice(dbs, agg_ids)
    except Exception as e:
        return {"lost": 0, "applied_twice": 0, "method": f"skipped: {e!r}"[:200]}
    finally:
        await client.close()
    return {
        "lost": sum(lost.values()),
        "applied_twice": sum(twice.values()),
        "lost_by_service": lost,
        "applied_twice_by_service": twice,
        "expected_by_service": {s: len(v) for s, v in expected.items()},
        "derived_events_checked": derived,
        "lost_examples": examples,
        "method": "inbox ids vs every event routed to the service; event ids repeated in "
        "each aggregate's history",
    }


def _latencies(stream: Stream, listener: Listener, chaos: list[dict[str, Any]]) -> dict[str, Any]:
    """Event time of the source event that started the chain -> when the listener saw the
    availability.changed / order.status_changed it caused."""
    seen = listener.seen
    source_time = {i: ev.time.timestamp() for i, ev in stream.log.items() if ev.time is not None}
    windows = [(c["started"], c["ended"] + 30.0) for c in chaos]
    by_type: dict[str, list[float]] = {}
    outside: list[float] = []
    from_publish: list[float] = []
    for typ, cause, at in listener.visible:
        root = cause
        for _ in range(6):
            if root in source_time or root not in seen:
                break
            root = seen[root].causationid or ""
        if root not in source_time:
            continue
        t = source_time[root]
        lat = at - t
        by_type.setdefault(typ, []).append(lat)
        if root in stream.published_at:
            from_publish.append(at - stream.published_at[root])
        if not any(a <= t <= b for a, b in windows):
            outside.append(lat)
    out = {k: latency_summary(v) for k, v in by_type.items()}
    out["all"] = latency_summary([x for v in by_type.values() for x in v])
    out["from_publish"] = latency_summary(from_publish)
    if windows:
        out["outside_chaos"] = latency_summary(outside)
    return out


def command_line(argv: list[str] | None = None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return "distsync " + " ".join(shlex.quote(a) for a in args)
