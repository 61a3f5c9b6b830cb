"""What the database pays per inbox id: to record it, and to forget it once retention is over
(issue 27), the single inbox of earlier releases against the time buckets of today.

    uv run python -m benchmarks.purge_probe [--ids 100000] [--batch 100] [--chunk 1000]

Single inbox: records `--ids` ids into one `inbox` collection with its index on the time (as
earlier releases did, `insert_many` of `--batch`, outside a transaction), then purges them with
`shared.retention.purge_expired` in chunks of `--chunk`. Buckets: records as many ids with
`shared.inbox.Inbox.record` into the current bucket, then forgets them with `Inbox.drop`.
Prints the database's CPU per id for each phase (from /proc, so the database must run on this
machine: the SecantusDB daemon it starts, unless MONGODB_URL names one whose pid `--db-pid`
gives). Explains the long run's step when retention starts: in the steady state every event is
recorded and, later, forgotten. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from distsync_sim.testing import mongodb_server
from shared import inbox
from shared.retention import purge_expired

from .common import cpu_seconds


def _entries(i: int, n: int, t0: datetime) -> list[tuple[str, str, datetime, str | None]]:
    return [
        (str(uuid.uuid4()), "inventory.adjusted", t0 + timedelta(milliseconds=j), None)
        for j in range(i, n)
    ]


async def probe(url: str, pid: int, ids: int, batch: int, chunk: int) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(url)
    db = client["purge_probe"]
    await db.drop_collection(inbox.INBOX)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    rows: list[tuple[str, float, float, float, float]] = []

    legacy = db[inbox.INBOX]  # the single inbox: its time index, a delete per id
    await legacy.create_index("time", name=inbox.TIME_INDEX)
    c0, w0 = cpu_seconds(pid), time.perf_counter()
    for i in range(0, ids, batch):
        await legacy.insert_many(
            [
                {"_id": k, "type": t, "time": tm, "correlationid": c, "at": t0}
                for k, t, tm, c in _entries(i, min(i + batch, ids), t0)
            ]
        )
    c1, w1 = cpu_seconds(pid), time.perf_counter()
    gone = await purge_expired(legacy, "time", t0 + timedelta(hours=2), chunk)
    c2, w2 = cpu_seconds(pid), time.perf_counter()
    rows.append(("single inbox, chunked delete", c1 - c0, w1 - w0, c2 - c1, w2 - w1))
    await db.drop_collection(inbox.INBOX)

    box = inbox.Inbox(db, retention_s=7200)  # buckets: no index but the id's, a drop per bucket
    now = datetime.now(UTC)
    await box.setup(now)
    c0, w0 = cpu_seconds(pid), time.perf_counter()
    for i in range(0, ids, batch):
        entries = _entries(i, min(i + batch, ids), t0)
        await box.prepare([e[2] for e in entries], now)
        await box.record(entries, now, None)
    c1, w1 = cpu_seconds(pid), time.perf_counter()
    dropped = 0
    for name in await inbox.collections(db):
        dropped += await box.drop(name)
    c2, w2 = cpu_seconds(pid), time.perf_counter()
    rows.append(("time buckets, drop", c1 - c0, w1 - w0, c2 - c1, w2 - w1))
    await client.close()

    print(f"database CPU per inbox id ({ids:,} ids; {gone:,} purged, {dropped:,} dropped)")
    print(f"  {'':<30} {'record ms':>10} {'(wall s)':>9} {'forget ms':>10} {'(wall s)':>9}")
    for name, rc, rw, fc, fw in rows:
        print(
            f"  {name:<30} {1000 * rc / ids:>10.3f} {rw:>9.1f} {1000 * fc / ids:>10.3f} {fw:>9.1f}"
        )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--db-pid", type=int, default=None, help="with MONGODB_URL: its process")
    args = ap.parse_args()
    with mongodb_server() as (url, srv):
        pid = args.db_pid or (srv.proc.pid if srv is not None and srv.proc else None)
        if pid is None:
            raise SystemExit("purge_probe: give --db-pid for the database MONGODB_URL names")
        await probe(url, pid, args.ids, args.batch, args.chunk)


if __name__ == "__main__":
    asyncio.run(main())
