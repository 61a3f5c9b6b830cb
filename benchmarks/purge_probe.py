"""What the database pays per inbox id: once to record it, once to purge it (issue 27).

    uv run python -m benchmarks.purge_probe [--ids 100000] [--batch 100] [--chunk 1000]

Records `--ids` inbox ids with `shared.inbox` (its indexes, `record` in batches of `--batch`,
outside a transaction), then purges them all with `shared.retention.purge_expired` in chunks of
`--chunk`. Prints the database's CPU per document for each phase (from /proc, so the
database must run on this machine: the SecantusDB daemon it starts, unless MONGODB_URL names
one whose pid `--db-pid` gives). Explains the long run's step when retention starts: in the
steady state every event is recorded and, later, purged. Prints figures; asserts nothing.
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


async def probe(url: str, pid: int, ids: int, batch: int, chunk: int) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(url)
    db = client["purge_probe"]
    await db[inbox.INBOX].drop()
    await inbox.setup(db)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    c0, w0 = cpu_seconds(pid), time.perf_counter()
    for i in range(0, ids, batch):
        entries = [
            (str(uuid.uuid4()), "inventory.adjusted", t0 + timedelta(milliseconds=j), None)
            for j in range(i, min(i + batch, ids))
        ]
        await inbox.record(db, entries, t0, None)
    c1, w1 = cpu_seconds(pid), time.perf_counter()
    deleted = await purge_expired(db[inbox.INBOX], "time", t0 + timedelta(hours=2), chunk)
    c2, w2 = cpu_seconds(pid), time.perf_counter()
    await db[inbox.INBOX].drop()
    await client.close()
    print(f"database CPU per inbox id ({ids:,} ids)")
    print(f"  record, insert_many of {batch}: {1000 * (c1 - c0) / ids:.3f} ms ({w1 - w0:.1f} s)")
    print(
        f"  purge, delete_many chunks of {chunk}: "
        f"{1000 * (c2 - c1) / max(deleted, 1):.3f} ms ({deleted:,} deleted, {w2 - w1:.1f} s)"
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
