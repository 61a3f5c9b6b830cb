"""Long run (issue 27): `inventory.adjusted` events published live into `wms.events` through one
availability process while its database grows; is throughput at the end within 20 % of the
start?

    uv run python -m benchmarks.long_run [--events 1000000] [--skus 100000] [--window 25000]
        [--rate R] [--lead 20000] [--inbox-retention-s 300] [--horizon-margin-s 60]
        [--inbox-bucket-s S] [--outbox-retention-s 60] [--purge-interval-s 10] [--prefill] [--count-db]
        [--out docs/benchmarks/long_run]

The publisher builds each event as it sends it (its `time` is the moment it is published) and
sends with confirms, 500 in flight, at full speed or at `--rate`. It keeps at most `--lead`
events published and not yet applied, and pauses while the oldest of them was sent more than a
quarter of the deduplication horizon ago, so the queue stays short and the service, not the
broker, sets the pace.

Every second the benchmark reads the service's /metrics (applied, dead-lettered, committed
batches, purged) and the CPU seconds of the service and the database from /proc; every
`--window` events it also records both processes' RSS and the database's size on disk. The
documents in `inbox`, `outbox` and `positions` per window are derived without asking the
database: the inbox holds every applied id not yet purged, the outbox one document per committed
batch not yet purged, and the positions are those the settled events changed (a change of 0
writes none). On the embedded server a count walks the whole collection, seconds for hundreds
of thousands of documents, and would slow the very windows it measures; the derivation is
checked against the database's own counts at the end (`--count-db` counts every window too).
At the end every position is read back over HTTP and compared with the sums published.

Retention runs on a short horizon, so that a run of minutes shows the steady state a deployment
reaches after weeks. With the defaults (14 days of inbox ids, 7 days of sent outbox documents)
nothing would expire during the run and it would measure a database that only grows. Here the
inbox keeps `--inbox-retention-s` (300 s, in buckets of a quarter of that, `--inbox-bucket-s`:
at about 1,500 events/s the inbox levels off near 450,000-560,000 ids after five minutes, and
from then on a bucket of about 110,000 ids is dropped every 75 s),
sent outbox documents `--outbox-retention-s` (60 s), and the purge runs every
`--purge-interval-s` (10 s) so that each round is small. Positions are never purged: they grow
towards `--skus` x 3 through the whole run. The deduplication horizon is the retention less
`--horizon-margin-s` (240 s); the publisher's lead keeps every event's wait in the queue far
below it. An event that waited longer would be dead-lettered as `beyond_dedup_horizon`: such
events are counted, and they would show as wrong positions.

The start is cheaper than the end for a reason that has nothing to do with growth: early on
most events create their position, and inserting a position costs the database less than
rewriting one; late in the run nearly every event rewrites one. The table shows the share of
each window's events that created a position, and the summary the CPU per event of the first
and the last 10 %. `--prefill` takes that out of the comparison: it first creates every position
(one event each, not measured), so that every measured event rewrites one, and what changes from
start to end is the growth of the rest and the purge.

Writes `<out>.csv` (one row per window) and `<out>.png` (events/s against events processed, the
collection sizes, the CPU per event and the database's size on disk; matplotlib, a dev
dependency: without it the table is still printed). Prints figures; asserts nothing. Local
RabbitMQ (a throwaway vhost) and a SecantusDB daemon it starts itself (or MONGODB_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import csv
import os
import random
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from distsync_sim.testing import free_port
from shared import inbox
from shared.cloudevent import encode, format_time
from shared.envelope import parse
from shared.runtime import mongo_client

from .availability_bench import start
from .common import availability_stack, cpu_probe_ms, cpu_seconds, pct
from .stack_bench import LOCATIONS, _ready

STALL_S = 120.0  # nothing applied for this long: the run has failed
IN_FLIGHT = 500  # unconfirmed publishes at once, as in stack_bench


def rss_mb(pid: int | None) -> float:
    """Resident memory now (VmRSS), in MB; NaN when unknown."""
    if pid is None:
        return float("nan")
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def disk_mb(path: str | None) -> float:
    """What the database's files take on disk, in MB; NaN for a server we did not start."""
    if not path:
        return float("nan")
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total / 1e6


def scrape(port: int) -> dict[str, float]:
    """The counters the run follows, from one read of the service's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {"applied": 0.0, "dead": 0.0, "batches": 0.0, "purged_inbox": 0.0, "purged_outbox": 0.0}
    for line in text.splitlines():
        if line.startswith("distsync_messages_consumed_total{"):
            if 'outcome="applied"' in line:
                out["applied"] += float(line.rsplit(" ", 1)[1])
            elif 'outcome="dead_lettered"' in line:
                out["dead"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("distsync_batch_messages_count{"):
            out["batches"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("distsync_retention_deleted_total{"):
            key = "purged_inbox" if 'collection="inbox"' in line else "purged_outbox"
            out[key] += float(line.rsplit(" ", 1)[1])
    return out


@dataclass
class Sample:
    """One reading, about once a second."""

    t: float
    settled: float  # applied + dead-lettered
    applied: float  # these counters count from the service's start, prefill included
    dead: float
    batches: float
    purged_inbox: float
    purged_outbox: float
    cpu_service: float
    cpu_database: float


@dataclass
class Snapshot:
    """What is read once per window: memory, disk, collection sizes."""

    service_rss: float = float("nan")
    db_rss: float = float("nan")
    db_disk: float = float("nan")
    counts: dict[str, int] = field(default_factory=dict)


class Events:
    """The events of the run, made as they are sent, and the on-hand each position must end
    with (per SKU, one figure per location)."""

    def __init__(self, n: int, skus: int, seed: int) -> None:
        self.n = n
        self.rnd = random.Random(seed)
        self.skus = skus
        self.run = uuid.uuid4().hex[:8]
        self.expected = [[0.0] * len(LOCATIONS) for _ in range(skus)]
        self.touched = [bytearray(len(LOCATIONS)) for _ in range(skus)]
        self.written = [bytearray(len(LOCATIONS)) for _ in range(skus)]
        # 1 where the event is the first of its position: the service inserts that position,
        # which costs the database less than rewriting an existing one
        self.creates = bytearray(n)
        self.prefilled = 0  # positions created before the measured events (`--prefill`)

    def make(self, i: int, at: str) -> tuple[str, bytes]:
        """The i-th event of the run."""
        sku, loc = self.rnd.randrange(self.skus), self.rnd.randrange(len(LOCATIONS))
        delta = self.rnd.randint(-5, 20)
        self.expected[sku][loc] += delta
        self.touched[sku][loc] = 1
        if delta and not self.written[sku][loc]:  # a change of 0 writes no position
            self.written[sku][loc] = 1
            if i < self.n:
                self.creates[i] = 1
        return self.body(f"lr-{self.run}-{i}", sku, loc, delta, at)

    def make_prefill(self, i: int, at: str) -> tuple[str, bytes]:
        """An event that creates the i-th position (`--prefill`; one of no quantity would
        leave it unwritten)."""
        sku, loc = divmod(i, len(LOCATIONS))
        self.touched[sku][loc] = self.written[sku][loc] = 1
        self.expected[sku][loc] += 1
        self.prefilled += 1
        return self.body(f"lr-{self.run}-prefill-{i}", sku, loc, 1, at)

    @staticmethod
    def body(eid: str, sku: int, loc: int, delta: int, at: str) -> tuple[str, bytes]:
        body = {
            "specversion": "1.0",
            "id": eid,
            "source": "wms/long-run",
            "type": "inventory.adjusted",
            "time": at,
            "datacontenttype": "application/json",
            "data": {
                "location": LOCATIONS[loc],
                "sku": f"SKU-{sku}",
                "qty_delta": delta,
                "reason_code": "CYCLE",
            },
        }
        return eid, encode(body)

    def positions(self) -> int:
        return sum(sum(t) for t in self.touched)


class Progress:
    """What the sampler has seen so far; the publisher reads it to keep its lead."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.snapshots: dict[int, Snapshot] = {}  # window index -> snapshot
        self.sampler: asyncio.Task[None] | None = None

    def check(self) -> None:
        """Raise what ended the sampler (a stall, the service gone), so the publisher stops."""
        if self.sampler is not None and self.sampler.done():
            self.sampler.result()
            raise RuntimeError("the sampler ended before every event was sent")

    @property
    def settled(self) -> float:
        return self.samples[-1].settled if self.samples else 0.0


async def publish(
    amqp: str,
    n: int,
    make: Callable[[int, str], tuple[str, bytes]],
    progress: Progress,
    rate: float | None,
    lead: int,
    wait_s: float,
) -> float:
    """Send `n` events, made by `make(i, time)` (confirmed); returns when the first was sent.
    Pauses while more than `lead` events are unsettled, or the oldest unsettled one was sent
    over `wait_s` ago."""
    conn = await aio_pika.connect(amqp)
    try:
        ch = await conn.channel(publisher_confirms=True)
        ex = await ch.get_exchange("wms.events", ensure=False)
        step = IN_FLIGHT if not rate else max(1, min(IN_FLIGHT, int(rate / 20)))
        t0 = time.perf_counter()
        sent = 0
        batches: collections.deque[tuple[int, float]] = collections.deque()  # (sent after, when)
        while sent < n:
            while True:
                settled = progress.settled
                while batches and batches[0][0] <= settled:
                    batches.popleft()
                old = bool(batches) and time.perf_counter() - batches[0][1] > wait_s
                if sent - settled <= lead and not old:
                    break
                progress.check()
                await asyncio.sleep(0.05)
            if rate:
                ahead = t0 + sent / rate - time.perf_counter()
                if ahead > 0:
                    await asyncio.sleep(ahead)
            k = min(step, n - sent)
            at = format_time(datetime.now(UTC))
            batch = [make(sent + j, at) for j in range(k)]
            await asyncio.gather(
                *(
                    ex.publish(
                        aio_pika.Message(body, message_id=eid, delivery_mode=2),
                        routing_key="inventory.adjusted",
                    )
                    for eid, body in batch
                )
            )
            sent += k
            batches.append((sent, time.perf_counter()))
        return t0
    finally:
        await conn.close()


async def sample(
    port: int,
    n: int,
    window: int,
    progress: Progress,
    pids: tuple[int, int | None],
    snap: Any,
    base: float = 0.0,
) -> None:
    """Read the counters every second until all `n` events are settled (beyond `base`, what
    was settled before); at each window boundary start a snapshot (one at a time: a slow count
    never holds up the sampling)."""
    next_boundary = window
    counting: asyncio.Task[None] | None = None
    moved = time.perf_counter()
    misses = 0
    while True:
        try:
            c = await asyncio.to_thread(scrape, port)
            misses = 0
        except OSError:  # a busy service may miss one scrape; a dead one misses them all
            misses += 1
            if misses >= 30:
                raise
            await asyncio.sleep(1.0)
            continue
        t = time.perf_counter()
        settled = c["applied"] + c["dead"] - base
        if progress.samples and settled > progress.settled:
            moved = t
        progress.samples.append(
            Sample(
                t,
                settled,
                c["applied"],
                c["dead"],
                c["batches"],
                c["purged_inbox"],
                c["purged_outbox"],
                cpu_seconds(pids[0]),
                cpu_seconds(pids[1]),
            )
        )
        while settled >= next_boundary:
            k = next_boundary // window
            if counting is None or counting.done():
                counting = asyncio.create_task(snap(k))
            next_boundary += window
        if settled >= n:
            if counting is not None:
                await counting
            return
        if t - moved > STALL_S:
            raise TimeoutError(f"{settled:.0f} of {n} settled; nothing moved for {STALL_S:.0f} s")
        await asyncio.sleep(1.0)


def crossing(samples: list[Sample], x: float, attr: str = "settled") -> float:
    """When `attr` reached x, interpolated between the two readings around it."""
    prev = samples[0]
    for s in samples:
        if getattr(s, attr) >= x:
            lo, hi = float(getattr(prev, attr)), float(getattr(s, attr))
            if hi <= lo:
                return s.t
            return prev.t + (s.t - prev.t) * (x - lo) / (hi - lo)
        prev = s
    return samples[-1].t


def at(samples: list[Sample], t: float, attr: str) -> float:
    """`attr` at time t, interpolated."""
    prev = samples[0]
    for s in samples:
        if s.t >= t:
            if s.t <= prev.t:
                return float(getattr(s, attr))
            f = (t - prev.t) / (s.t - prev.t)
            return float(getattr(prev, attr) + f * (getattr(s, attr) - getattr(prev, attr)))
        prev = s
    return float(getattr(samples[-1], attr))


@dataclass
class Window:
    index: int
    events: int
    t_end: float
    seconds: float
    rate: float
    service_cpu_ms: float
    db_cpu_ms: float
    snap: Snapshot
    purged_inbox: float
    purged_outbox: float
    dead: float
    creating: float  # share of the window's events that created their position
    sizes: dict[str, int]  # documents per collection, derived (see the module's docstring)


def windows(progress: Progress, t0: float, run: Events, window: int) -> list[Window]:
    n = run.n
    out: list[Window] = []
    created = 0
    samples = progress.samples  # the first ones, read before anything was sent, count 0
    prev_t = t0
    bounds = list(range(window, n + 1, window))
    if not bounds or bounds[-1] != n:
        bounds.append(n)
    prev_x = 0
    for i, x in enumerate(bounds, start=1):
        t = crossing(samples, x)
        secs = max(t - prev_t, 1e-9)
        events = x - prev_x
        cpu_s = at(samples, t, "cpu_service") - at(samples, prev_t, "cpu_service")
        cpu_d = at(samples, t, "cpu_database") - at(samples, prev_t, "cpu_database")
        new = sum(run.creates[prev_x:x])
        created += new
        out.append(
            Window(
                i,
                x,
                t - t0,
                secs,
                events / secs,
                cpu_s / events * 1000,
                cpu_d / events * 1000,
                progress.snapshots.get(i, Snapshot()),
                at(samples, t, "purged_inbox"),
                at(samples, t, "purged_outbox"),
                at(samples, t, "dead"),
                new / events,
                derived_sizes(
                    at(samples, t, "applied"),
                    at(samples, t, "batches"),
                    at(samples, t, "purged_inbox"),
                    at(samples, t, "purged_outbox"),
                    run.prefilled + created,
                ),
            )
        )
        prev_t, prev_x = t, x
    return out


def derived_sizes(
    applied: float, batches: float, purged_inbox: float, purged_outbox: float, positions: int
) -> dict[str, int]:
    """inbox: every applied id not purged; outbox: a document per committed batch (each of
    availability's emits `availability.changed`) not purged; positions: those an event changed."""
    return {
        "inbox": round(applied - purged_inbox),
        "outbox": round(batches - purged_outbox),
        "positions": positions,
    }


def rate_between(progress: Progress, t0: float, lo: float, hi: float) -> float:
    samples = progress.samples
    t_lo = t0 if lo <= 0 else crossing(samples, lo)
    return (hi - lo) / max(crossing(samples, hi) - t_lo, 1e-9)


async def read_back(port: int, events: Events, concurrency: int = 50) -> str:
    """Every touched SKU through `GET /v1/availability/{sku}`: how many positions match. (The
    stack benchmark's read-back compares each SKU against every position, which is fine for its
    6,000 positions and far too slow for hundreds of thousands.)"""
    took: list[float] = []
    wrong = 0
    failed = 0
    sem = asyncio.Semaphore(concurrency)

    async def one(http: httpx.AsyncClient, sku: int) -> None:
        nonlocal wrong, failed
        async with sem:
            t = time.perf_counter()
            try:
                r = await http.get(f"http://127.0.0.1:{port}/v1/availability/SKU-{sku}")
                got = {p["location"]: p["on_hand"] for p in r.json().get("locations", [])}
            except (httpx.HTTPError, ValueError):
                failed += 1
                got = {}
            took.append(time.perf_counter() - t)
        for li, loc in enumerate(LOCATIONS):
            if events.touched[sku][li] and abs(got.get(loc, 0.0) - events.expected[sku][li]) > 1e-9:
                wrong += 1

    skus = [s for s in range(events.skus) if any(events.touched[s])]
    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(one(http, s) for s in skus))
    total = events.positions()
    return (
        f"read back {len(skus):,} SKUs over HTTP in {time.perf_counter() - t0:.1f} s "
        f"(p50 {pct(took, 50) * 1000:.1f} ms, p99 {pct(took, 99) * 1000:.1f} ms per GET"
        + (f", {failed} failed" if failed else "")
        + f"); {total - wrong:,}/{total:,} positions right"
    )


COLUMNS = [
    "window",
    "events",
    "t_s",
    "window_s",
    "events_per_s",
    "service_cpu_ms_per_event",
    "db_cpu_ms_per_event",
    "service_rss_mb",
    "db_rss_mb",
    "db_disk_mb",
    "inbox",
    "outbox",
    "positions",
    "purged_inbox",
    "purged_outbox",
    "dead_lettered",
    "share_creating_position",
    "db_count_inbox",
    "db_count_outbox",
    "db_count_positions",
]


def row(w: Window) -> list[Any]:
    c = w.snap.counts  # counted by the database: only with --count-db
    return [
        w.index,
        w.events,
        round(w.t_end, 2),
        round(w.seconds, 2),
        round(w.rate, 1),
        round(w.service_cpu_ms, 3),
        round(w.db_cpu_ms, 3),
        round(w.snap.service_rss, 1),
        round(w.snap.db_rss, 1),
        round(w.snap.db_disk, 1),
        w.sizes["inbox"],
        w.sizes["outbox"],
        w.sizes["positions"],
        int(w.purged_inbox),
        int(w.purged_outbox),
        int(w.dead),
        round(w.creating, 3),
        c.get("inbox", ""),
        c.get("outbox", ""),
        c.get("positions", ""),
    ]


def table(ws: list[Window]) -> str:
    head = (
        f"{'window':>6} {'events':>10} {'events/s':>9} {'new pos':>7} {'CPU ms/ev svc/db':>16} "
        f"{'RSS MB svc/db':>13} {'disk MB':>8} {'inbox':>9} {'outbox':>7} {'positions':>9} "
        f"{'purged inbox':>12} {'outbox':>7}"
    )
    lines = [head]
    for w in ws:

        def n(name: str, w: Window = w) -> str:
            return f"{w.sizes[name]:,}"

        lines.append(
            f"{w.index:>6} {w.events:>10,} {w.rate:>9,.0f} {w.creating:>7.0%} "
            f"{w.service_cpu_ms:>7.2f} / {w.db_cpu_ms:<6.2f} "
            f"{w.snap.service_rss:>5.0f} / {w.snap.db_rss:<5.0f} {w.snap.db_disk:>8.0f} "
            f"{n('inbox'):>9} {n('outbox'):>7} {n('positions'):>9} "
            f"{w.purged_inbox:>12,.0f} {w.purged_outbox:>7,.0f}"
        )
    return "\n".join(lines)


def write_csv(path: Path, ws: list[Window]) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        out.writerows(row(w) for w in ws)


def plot(path: Path, ws: list[Window], start: float, title: str) -> str:
    """events/s against events processed, with the target line; below, the collection sizes,
    and the CPU per event with the database's size on disk."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot (it is a dev dependency: uv sync --frozen)"
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(10, 9), sharex=True, height_ratios=(3, 2, 2))
    xs = [w.events for w in ws]
    top.plot(xs, [w.rate for w in ws], marker="o", markersize=3, label="events/s per window")
    top.axhline(start, color="grey", linestyle="--", linewidth=1, label="first 10 %")
    top.axhline(0.8 * start, color="red", linestyle=":", linewidth=1, label="80 % of first 10 %")
    top.set_ylabel("events/s")
    top.set_ylim(bottom=0)
    top.legend(loc="lower left")
    top.set_title(title, fontsize=10)
    for name in ("inbox", "outbox", "positions"):
        mid.plot(xs, [w.sizes[name] for w in ws], marker=".", label=name)
    mid.set_ylabel("documents")
    mid.legend(loc="best")
    low.plot(xs, [w.service_cpu_ms for w in ws], marker=".", label="service CPU ms/event")
    low.plot(xs, [w.db_cpu_ms for w in ws], marker=".", label="database CPU ms/event")
    low.set_ylabel("CPU ms per event")
    low.set_ylim(bottom=0)
    low.set_xlabel("events processed")
    disk = [(w.events, w.snap.db_disk) for w in ws if w.snap.db_disk == w.snap.db_disk]
    if disk:
        right = low.twinx()
        right.plot(*zip(*disk, strict=True), color="grey", linestyle="--", label="database MB")
        right.set_ylabel("MB on disk")
        right.set_ylim(bottom=0)
        right.legend(loc="upper right")
    low.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plot: {path}"


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--skus", type=int, default=100_000, help="3 locations each")
    ap.add_argument("--window", type=int, default=25_000, help="events per sampled window")
    ap.add_argument("--rate", type=float, default=None, help="events/s offered (default: all)")
    ap.add_argument("--lead", type=int, default=20_000, help="most events sent, not applied")
    ap.add_argument("--inbox-retention-s", type=float, default=300.0)
    ap.add_argument("--inbox-bucket-s", type=float, default=None, help="default: retention / 4")
    ap.add_argument("--horizon-margin-s", type=float, default=60.0)
    ap.add_argument("--outbox-retention-s", type=float, default=60.0)
    ap.add_argument("--purge-interval-s", type=float, default=10.0)
    ap.add_argument("--out", default="docs/benchmarks/long_run", help="<out>.csv, <out>.png")
    ap.add_argument("--seed", type=int, default=27)
    ap.add_argument(
        "--count-db",
        action="store_true",
        help="also count inbox, outbox and positions in the database every window (slows the "
        "windows it measures on the embedded server)",
    )
    ap.add_argument(
        "--prefill",
        action="store_true",
        help="first create every position (one event of qty_delta 1 each, not measured), so "
        "that the measured events all rewrite a position instead of inserting the early ones",
    )
    args = ap.parse_args()
    n = args.events
    probe, load = cpu_probe_ms(), os.getloadavg()
    events = Events(n, args.skus, args.seed)
    check = parse(events.make(0, format_time(datetime.now(UTC)))[1])  # the body is a CloudEvent
    assert check.type == "inventory.adjusted"
    events = Events(n, args.skus, args.seed)  # the check's draw must not count
    progress = Progress()
    async with availability_stack() as (amqp, mongo, srv):
        db_pid = srv.proc.pid if srv and srv.proc else None
        db_name = "bench_long_" + uuid.uuid4().hex[:6]
        port = free_port()
        proc = start(
            amqp,
            mongo,
            db_name,
            port,
            DISTSYNC_INBOX_RETENTION_S=str(args.inbox_retention_s),
            DISTSYNC_DEDUP_HORIZON_MARGIN_S=str(args.horizon_margin_s),
            **(
                {"DISTSYNC_INBOX_BUCKET_S": str(args.inbox_bucket_s)} if args.inbox_bucket_s else {}
            ),
            DISTSYNC_OUTBOX_RETENTION_S=str(args.outbox_retention_s),
            DISTSYNC_RETENTION_PURGE_INTERVAL_S=str(args.purge_interval_s),
        )
        client = mongo_client(mongo)
        db = client[db_name]

        async def count_db() -> dict[str, int]:
            return {
                "inbox": await inbox.estimated(db),
                **{
                    name: int(await db[name].estimated_document_count())
                    for name in ("outbox", "positions")
                },
            }

        async def snap(p: Progress, k: int) -> None:
            s = Snapshot(rss_mb(proc.pid), rss_mb(db_pid), disk_mb(srv.storage if srv else None))
            p.snapshots[k] = s
            if args.count_db:
                s.counts = await count_db()

        async def phase(
            p: Progress, count: int, make: Callable[[int, str], tuple[str, bytes]], base: float
        ) -> float:
            p.sampler = asyncio.create_task(
                sample(port, count, args.window, p, (proc.pid, db_pid), lambda k: snap(p, k), base)
            )
            while not p.samples:
                p.check()
                await asyncio.sleep(0.05)
            wait_s = (args.inbox_retention_s - args.horizon_margin_s) / 4
            t = await publish(amqp, count, make, p, args.rate, args.lead, wait_s)
            await p.sampler
            return t

        try:
            await _ready([port])
            before = 0.0
            if args.prefill:
                positions = args.skus * len(LOCATIONS)
                started = time.perf_counter()
                await phase(Progress(), positions, events.make_prefill, 0.0)
                c = scrape(port)
                before = c["applied"] + c["dead"]
                print(
                    f"prefill: {positions:,} positions created in "
                    f"{time.perf_counter() - started:.0f} s (not measured)",
                    flush=True,
                )
            t0 = await phase(progress, n, events.make, before)
            t_end = crossing(progress.samples, n)
            took = time.perf_counter()
            counted = await count_db()
            took = time.perf_counter() - took
            c = scrape(port)
            sizes = derived_sizes(
                c["applied"],
                c["batches"],
                c["purged_inbox"],
                c["purged_outbox"],
                events.prefilled + sum(events.creates),
            )
            check_text = await read_back(port, events)
        finally:
            proc.terminate()
            proc.wait(30)
            await client.drop_database(db_name)
            await client.close()
    ws = windows(progress, t0, events, args.window)
    tenth = n / 10
    first = rate_between(progress, t0, 0, tenth)
    last = rate_between(progress, t0, n - tenth, n)
    dead = progress.samples[-1].dead
    title = (
        f"{n:,} inventory.adjusted over {args.skus:,} SKUs x {len(LOCATIONS)}; inbox kept "
        f"{args.inbox_retention_s:.0f} s, sent outbox {args.outbox_retention_s:.0f} s"
        + ("; positions created first" if args.prefill else "")
    )
    print(f"\ndistsync long run: {title}")
    print(
        f"  CPU probe {probe:.0f} ms before, {cpu_probe_ms():.0f} ms after; load average at "
        f"start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
        + (f"offered {args.rate:,.0f} events/s" if args.rate else "full speed")
        + f", at most {args.lead:,} ahead"
    )
    print(table(ws))
    ratio = last / first if first else float("nan")
    verdict = "met" if ratio >= 0.8 else "MISSED"
    print(
        f"  first 10 % ({tenth:,.0f} events): {first:,.0f} events/s; last 10 %: {last:,.0f} "
        f"events/s; end / start = {ratio:.0%} (target: within 20 %, at least 80 %): {verdict}"
    )
    samples = progress.samples
    for name, lo, hi in (("first", 0, int(tenth)), ("last", n - int(tenth), n)):
        t_lo = t0 if lo == 0 else crossing(samples, lo)
        t_hi = crossing(samples, hi)
        per = {
            attr: (at(samples, t_hi, attr) - at(samples, t_lo, attr)) / (hi - lo) * 1000
            for attr in ("cpu_service", "cpu_database")
        }
        print(
            f"    {name} 10 %: CPU ms per event service {per['cpu_service']:.2f}, database "
            f"{per['cpu_database']:.2f}; {sum(events.creates[lo:hi]) / (hi - lo):.0%} of its "
            "events created their position (an insert: 0.13 ms of the embedded database's CPU "
            "against 0.33 ms for rewriting one, docs/benchmarks.md)"
        )
    print(f"  all {n:,} in {t_end - t0:.0f} s: {n / (t_end - t0):,.0f} events/s overall")
    print(
        f"  dead-lettered: {dead:.0f} (beyond the deduplication horizon of "
        f"{args.inbox_retention_s - args.horizon_margin_s:.0f} s, or otherwise)"
    )
    last_sample = progress.samples[-1]
    print(
        f"  purged: {last_sample.purged_inbox:,.0f} inbox ids, {last_sample.purged_outbox:,.0f} "
        f"sent outbox documents; counted by the database at the end ({took:.1f} s): "
        + ", ".join(f"{k} {v:,} (derived {sizes[k]:,})" for k, v in counted.items())
    )
    print(f"  {check_text}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out.with_suffix(".csv"), ws)
    print(f"  table: {out.with_suffix('.csv')}")
    print(f"  {plot(out.with_suffix('.png'), ws, first, title)}")


if __name__ == "__main__":
    asyncio.run(main())
