"""What the database pays per inbox id: once to record it, once to purge it (issue 27).

    uv run python -m benchmarks.purge_probe [--ids 100000] [--batch 100] [--chunk 1000]

Records `--ids` inbox documents shaped as `shared.inbox` writes them (with its index on `time`)
in `insert_many` batches of `--batch`, then deletes them all the way `shared.retention` does:
one read finds the bounds of up to 20 chunks in index order, each chunk is one `delete_many` up
to its bound. Prints the database's CPU per document for each phase (from /proc, so the
database must run on this machine: the SecantusDB daemon it starts, unless MONGODB_URL names
one whose pid `--db-pid` gives). Explains the long run's step when retention starts: in the
steady state every event is recorded and, later, purged. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, AsyncMongoClient

from distsync_sim.testing import mongodb_server
from shared.retention import SLICES


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def probe(url: str, pid: int, ids: int, batch: int, chunk: int) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(url)
    coll = client["purge_probe"]["inbox"]
    await coll.drop()
    await coll.create_index("time", name="time_1")
    t0 = datetime.now(UTC) - timedelta(hours=1)
    c0, w0 = cpu_s(pid), time.perf_counter()
    for i in range(0, ids, batch):
        docs = [
            {
                "_id": str(uuid.uuid4()),
                "type": "inventory.adjusted",
                "time": t0 + timedelta(milliseconds=j),
                "at": t0,
                "correlationid": None,
            }
            for j in range(i, min(i + batch, ids))
        ]
        await coll.insert_many(docs)
    c1, w1 = cpu_s(pid), time.perf_counter()
    deleted = 0
    cutoff = t0 + timedelta(hours=2)
    while True:
        cur = coll.find({"time": {"$lt": cutoff}}, {"time": 1, "_id": 0})
        bounds = await cur.sort("time", ASCENDING).limit(chunk * SLICES).to_list()
        if not bounds:
            break
        for k in range(chunk - 1, len(bounds) + chunk - 1, chunk):
            bound = bounds[min(k, len(bounds) - 1)]["time"]
            deleted += (await coll.delete_many({"time": {"$lte": bound}})).deleted_count
    c2, w2 = cpu_s(pid), time.perf_counter()
    await coll.drop()
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
