"""`distsync reconcile stock` on a million-row snapshot: rows per second and peak memory.

Seeds availability-shaped positions (and item records for the rows in cases) into a fresh
SecantusDB, writes a CSV snapshot with one row per position and 1% of rows off by a unit, then
runs the real command as a child process, twice: the complete-snapshot merge (a sorted scan
of the positions) and the partial one (batched lookups by key), the first also writing the
variance CSV. Peak memory is the child's own maximum RSS. Figures are printed, never asserted
(docs/benchmarks.md).

    uv run python -m benchmarks.reconcile_bench [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import cpu_probe_ms
from distsync_sim.testing import SecantusServer
from shared.runtime import mongo_client

LOCATIONS = ("DC-EAST", "DC-WEST", "DC-NORTH", "DC-SOUTH")
DB = "bench_reconcile_availability"


def key(sku: str, loc: str) -> str:
    return f"{sku}|{loc}"


def sku_of(i: int) -> str:
    return f"SKU-{i // len(LOCATIONS):07d}"


async def seed(url: str, rows: int, as_of: datetime) -> float:
    client = mongo_client(url)
    t = time.perf_counter()
    try:
        db = client[DB]
        batch: list[dict[str, Any]] = []
        for i in range(rows):
            sku, loc = sku_of(i), LOCATIONS[i % len(LOCATIONS)]
            moved = as_of - timedelta(minutes=1 + i % 50)
            batch.append(
                {
                    "_id": key(sku, loc),
                    "sku": sku,
                    "location": loc,
                    "on_hand": float(100 + i % 7),
                    "on_hand_base": 100.0,
                    "movements": [{"at": moved, "event_id": f"e{i}", "delta": float(i % 7)}],
                    "counted": None,
                    "folded_through": None,
                    "quarantined": 0.0,
                    "as_of": moved,
                }
            )
            if len(batch) == 10_000:
                await db.positions.insert_many(batch)
                batch = []
        if batch:
            await db.positions.insert_many(batch)
        items = [
            {
                "_id": sku_of(i),
                "sku": sku_of(i),
                "base_uom": "EA",
                "conversions": [{"uom": "CASE", "factor": 1.0}],
            }
            for i in range(0, rows, len(LOCATIONS) * 10)
        ]
        for j in range(0, len(items), 10_000):
            await db["items"].insert_many(items[j : j + 10_000])
    finally:
        await client.close()
    return time.perf_counter() - t


def write_snapshot(path: Path, rows: int, as_of: datetime) -> int:
    """One row per position; every hundredth is off by one unit. Returns the variances."""
    off = 0
    stamp = as_of.isoformat()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "location", "qty", "uom", "as_of"])
        for i in range(rows):
            qty = 100 + i % 7
            if i % 100 == 0:
                qty += 1
                off += 1
            uom = "CASE" if i % (len(LOCATIONS) * 10) == 0 else ""
            w.writerow([sku_of(i), LOCATIONS[i % len(LOCATIONS)], qty, uom, stamp])
    return off


# the command in a child that reports its own peak RSS (kB) on its last stderr line
CHILD = (
    "import resource, sys\n"
    "from shared.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(rc)\n"
)


def run(url: str, snapshot: Path, *extra: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "MONGODB_URL": url,
        "DISTSYNC_RECONCILE_AVAILABILITY_DB": DB,
        "DISTSYNC_STACK_FILE": "/nonexistent",
    }
    args = ["reconcile", "stock", str(snapshot), "--json", "--no-progress", "--top", "5", *extra]
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, capture_output=True)
    elapsed = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise RuntimeError(f"reconcile failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    peak_kb = int(p.stderr.decode().strip().splitlines()[-1])
    return {"s": elapsed, "doc": json.loads(p.stdout), "peak_mb": peak_kb / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    probe = cpu_probe_ms()
    as_of = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
        srv = SecantusServer().start()
        try:
            seed_s = asyncio.run(seed(srv.url, args.rows, as_of))
            snap = Path(tmp) / "snapshot.csv"
            off = write_snapshot(snap, args.rows, as_of)
            size_mb = snap.stat().st_size / 1e6
            print(f"machine: {os.cpu_count()} cores, cpu probe {probe:.0f} ms")
            print(
                f"seeded {args.rows:,} positions in {seed_s:.0f} s; snapshot {size_mb:.0f} MB, "
                f"{off:,} rows off by one unit"
            )
            for label, extra in (
                ("complete (sorted merge), with --csv", ("--csv", str(Path(tmp) / "v.csv"))),
                ("partial (batched lookups)", ("--partial",)),
            ):
                r = run(srv.url, snap, *extra)
                peak = r["peak_mb"]
                doc = r["doc"]
                found = doc["keys_with_variance"]
                print(
                    f"{label}: {doc['rows']:,} rows in {r['s']:.1f} s = "
                    f"{doc['rows'] / r['s']:,.0f} rows/s; peak RSS "
                    f"{peak:.0f} MB; "
                    f"{found:,} variances found ({'all' if found == off else 'NOT all'}), "
                    f"{doc['bad_rows']} bad rows"
                )
        finally:
            srv.cleanup()


if __name__ == "__main__":
    main()
