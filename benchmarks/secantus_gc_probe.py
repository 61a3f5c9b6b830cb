"""How long the embedded SecantusDB stalls, with and without `distsync_sim.secantus_launch`'s GC policy.

    python -m benchmarks.secantus_gc_probe [--seconds 90] [--intervals 0,5]

For each freeze interval (0 = the server untouched) a fresh server runs while two clients loop
over one-insert transactions and a probe reads one document every 5 ms. Prints the probe's
latency percentiles, its longest stall and the server's RSS. Prints, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from distsync_sim.secantus_launch import ENV
from distsync_sim.testing import SECANTUS_CMD, free_port, wait_port


async def probe(interval: float, seconds: float) -> str:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gc-probe-") as d:
        env = dict(os.environ, **{ENV: str(interval)})
        cmd = [*SECANTUS_CMD, "--port", str(port), "--storage-path", d, "--log-level", "WARNING"]
        server = subprocess.Popen(cmd, env=env)
        try:
            if not wait_port("127.0.0.1", port, 60):
                raise RuntimeError("SecantusDB did not start")
            client: AsyncMongoClient[Any] = AsyncMongoClient(
                f"mongodb://127.0.0.1:{port}/?directConnection=true"
            )
            db = client.probe
            await db.a.update_one({"_id": "p"}, {"$set": {"v": 1}}, upsert=True)
            stop = time.monotonic() + seconds
            txns = 0
            lat: list[float] = []

            async def load() -> None:
                nonlocal txns
                while time.monotonic() < stop:
                    async with client.start_session() as s, await s.start_transaction():
                        await db.a.insert_one({"i": txns}, session=s)
                    txns += 1

            async def read() -> None:
                while time.monotonic() < stop:
                    t = time.perf_counter()
                    await db.a.find_one({"_id": "p"})
                    lat.append((time.perf_counter() - t) * 1000)
                    await asyncio.sleep(0.005)

            await asyncio.gather(load(), load(), read())
            await client.close()
            rss = Path(f"/proc/{server.pid}/status").read_text().split("VmRSS:")[1].split()[0]
        finally:
            server.terminate()
            server.wait(30)
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(len(lat) * q))]

    label = "untouched" if interval <= 0 else f"freeze every {interval:g} s"
    return (
        f"  {label:<20} {txns} transactions; probe p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms,"
        f" p99.9 {pct(0.999):.1f} ms, longest {lat[-1]:.0f} ms,"
        f" {sum(x > 100 for x in lat)} over 100 ms; server RSS {int(rss) // 1024} MB"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--intervals", default="0,5")
    args = ap.parse_args()
    print("SecantusDB stall probe (a find_one every 5 ms beside two transaction loops)")
    for iv in (float(x) for x in args.intervals.split(",")):
        print(asyncio.run(probe(iv, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
