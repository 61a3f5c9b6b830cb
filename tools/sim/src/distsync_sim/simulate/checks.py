"""End-of-run checks: drained, dead letters as injected, nothing lost or applied twice, and
the visibility latency."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from distsync_sim.simulate import cluster as cl
from distsync_sim.simulate import observe, scale, truth_orders
from distsync_sim.simulate.faults import BadMessage
from distsync_sim.simulate.observe import Listener, Publisher
from distsync_sim.simulate.progress import Progress
from distsync_sim.simulate.report import latency_summary
from distsync_sim.simulate.stream import Stream
from shared import inbox
from shared.settings import ServiceSettings
from shared.topology import all_services, full_topology


def queue_names(partitions: int = 1) -> list[str]:
    """The queues a drained run finds empty: with partitions, theirs too."""
    s = ServiceSettings()
    topo = full_topology(all_services(), retry_delays_s=s.retry_delays_s)
    names = [q.name for q in topo.queues if not q.name.endswith(".dlq") and q.name != "unrouted"]
    return names + scale.partition_queues(partitions)


def expected_inbox(
    stream: Stream, listener: Listener, bindings: dict[str, set[tuple[str, str]]]
) -> dict[str, int]:
    """How many distinct events each service must have taken in: every valid event routed to
    it, the simulator's and those the services published (as the listener saw them)."""
    out = dict.fromkeys(bindings, 0)
    for ev in list(stream.log.values()):
        for svc, keys in bindings.items():
            if (ev.exchange, ev.type) in keys:
                out[svc] += 1
    for s in list(listener.seen.values()):
        for svc, keys in bindings.items():
            if (s.exchange, s.type) in keys:
                out[svc] += 1
    return out


async def drain(
    cluster: cl.Cluster,
    listener: Listener,
    timeout: float,
    prog: Progress,
    expected: Callable[[], dict[str, int]] | None = None,
    patience: float = 90.0,
) -> dict[str, Any]:
    """Drained: queues empty, outboxes sent, consumption stable, the listener quiet for a
    second, three polls running, and (with a database of our own) every inbox holding what
    was routed to it. Messages a consumer has prefetched are in no queue depth, so a service
    stalled on them (a killed process's transaction still holding its locks) would look idle;
    the inbox counts see it. Short inboxes with nothing moving for `patience` seconds end the
    wait: the report then counts those events as lost."""
    from pymongo import AsyncMongoClient

    assert listener.conn is not None
    names = queue_names(cluster.partitions)
    instance_urls = [p.url for p in cluster.procs.values()] or list(cluster.urls.values())
    mongo: AsyncMongoClient[Any] | None = None
    if cluster.spawned and cluster.mongodb_url:
        mongo = AsyncMongoClient(cluster.mongodb_url, serverSelectionTimeoutMS=3000, tz_aware=True)
    deadline = time.monotonic() + timeout
    streak, prev = 0, -1.0
    idle_since: float | None = None
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
            short: dict[str, int] = {}
            if mongo is not None and expected is not None:
                with contextlib.suppress(Exception):
                    for svc, n in expected().items():
                        have = await inbox.estimated(mongo[cluster.db_names[svc]])
                        if have < n:
                            short[svc] = n - have
            busy = {n: d for n, d in depths.items() if d != 0}
            now = time.monotonic()
            quiet = now - listener.last > 1.0
            idle = not busy and backlog == 0 and consumed == prev and quiet
            idle_since = (idle_since or now) if idle else None
            ok = idle and (not short or now - (idle_since or now) >= patience)
            last = {
                "queues": busy,
                "outbox_backlog": backlog,
                "consumed": consumed,
                "inbox_short": short,
            }
            streak = streak + 1 if ok else 0
            prev = consumed
            queued = sum(d for d in busy.values() if d > 0)
            prog.status(
                f"draining: {queued} queued, outbox backlog {backlog:.0f}, "
                f"inboxes short by {sum(short.values())}"
            )
            if streak >= 3:
                return {"drained": True, "last": last}
            await asyncio.sleep(0.5)
    finally:
        if mongo is not None:
            await mongo.close()
    return {"drained": False, "last": last}


async def dead_letters(
    pub: Publisher, bad: list[BadMessage], ours: set[str] | None
) -> dict[str, Any]:
    """Match the DLQs with the injected bad messages. `ours`: in no-spawn mode, the ids of this
    run's events; other runs' dead letters are counted apart (`foreign`), not held against it."""
    assert pub.conn is not None
    entries = await observe.read_dlqs(pub.conn, pub.url, cl.SERVICES)
    expected = {(svc, b.message_id): b for b in bad for svc in b.services}
    details: list[dict[str, Any]] = []
    found = wrong = unexpected = foreign = 0
    seen: set[tuple[str, str | None]] = set()
    by_kind: dict[str, int] = {}
    for e in entries:
        key = (e.service, e.message_id)
        b = expected.get((e.service, e.message_id or ""))
        if b is None and ours is not None and (e.message_id or "") not in ours:
            foreign += 1
            continue
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
        "foreign": foreign,
        "by_kind": by_kind,
        "injected_by_kind": {k: sum(1 for b in bad if b.kind == k) for k in {b.kind for b in bad}},
        "details": details[:50],
    }


async def integrity(
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
            got = await observe.found_ids(db, "inbox", ids, scan=cluster.spawned)
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
        twice = await observe.applied_twice(dbs, agg_ids, scan=cluster.spawned)
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


def latencies(
    stream: Stream,
    listener: Listener,
    chaos: list[dict[str, Any]],
    samples: list[tuple[str, str, float, float | None, float]] | None = None,
) -> dict[str, Any]:
    """Event time of the source event that started the chain -> when the listener saw the
    availability.changed / order.status_changed it caused.

    Live operation only, except `go_live` and `with_go_live`: the go-live bulk load (item
    master and opening counts, thousands of events published at once before operation starts)
    measures how fast a backlog drains, not how fresh live data is, so it is reported apart.
    Each sample is also appended to `samples`, when given, as (type, source event id, source
    time, publish time or None, seen at), go-live ones included."""
    seen = listener.seen
    source_time = {i: ev.time.timestamp() for i, ev in stream.log.items() if ev.time is not None}
    windows = [(c["started"], c["ended"] + 30.0) for c in chaos]
    by_type: dict[str, list[float]] = {}
    outside: list[float] = []
    from_publish: list[float] = []
    go_live: list[float] = []
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
        if samples is not None:
            samples.append((typ, root, t, stream.published_at.get(root), at))
        if root in stream.go_live_ids:
            go_live.append(lat)
            continue
        by_type.setdefault(typ, []).append(lat)
        if root in stream.published_at:
            from_publish.append(at - stream.published_at[root])
        if not any(t <= b and at >= a for a, b in windows):  # its whole journey missed them
            outside.append(lat)
    out = {k: latency_summary(v) for k, v in by_type.items()}
    live = [x for v in by_type.values() for x in v]
    out["all"] = latency_summary(live)
    out["from_publish"] = latency_summary(from_publish)
    if windows:
        out["outside_chaos"] = latency_summary(outside)
    out["go_live"] = latency_summary(go_live)
    out["with_go_live"] = latency_summary(live + go_live)
    return out
