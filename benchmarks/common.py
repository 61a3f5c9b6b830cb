"""What the benchmarks share: reading a service's progress and memory without slowing it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator

import aio_pika

from distsync_sim.testing import SecantusServer, amqp_server, isolated_vhost, mongodb_server
from shared.topology import all_services, declare, full_topology


def rss_peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_probe_ms() -> float:
    """How fast this machine runs plain Python right now: a fixed loop, best of three, in ms.
    Other tenants of the host move every figure here; this one moves with them."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        s = 0
        for i in range(2_000_000):
            s += i
        best = min(best, time.perf_counter() - t)
    return best * 1000


def fsync_probe_ms(writes: int = 200) -> float:
    """Milliseconds per synchronous 4 KiB write in the temp directory: RabbitMQ's quorum queues
    and the database's journal wait on the disk, which other tenants of the host share too."""
    fd, path = tempfile.mkstemp(prefix="distsync-fsync-")
    try:
        block = b"\0" * 4096
        t = time.perf_counter()
        for _ in range(writes):
            os.write(fd, block)
            os.fsync(fd)
        return (time.perf_counter() - t) / writes * 1000
    finally:
        os.close(fd)
        os.unlink(path)


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far (0 if unknown or gone)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """The local RabbitMQ's Erlang VM, if it runs on this machine."""
    out = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out.split() else None


class CpuMeter:
    """CPU seconds used by named processes between `start()` and `stop()`."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._t0 = {n: cpu_seconds(p) for n, p in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        self.used = {n: cpu_seconds(p) - self._t0[n] for n, p in self.pids.items()}
        return self.used

    def per_event_ms(self, events: float) -> str:
        return ", ".join(f"{n} {v / max(events, 1) * 1000:.2f}" for n, v in self.used.items())


def metric_total(ports: tuple[int, ...], name: str, match: str = "") -> float:
    """The sum of a counter's samples (those whose line contains `match`) over the services on
    `ports`, read from their own /metrics."""
    total = 0.0
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(name + "{") and match in line:
                total += float(line.rsplit(" ", 1)[1])
    return total


def applied_count(*ports: int) -> float:
    """Messages the services on `ports` have applied, read from their own /metrics: no
    database query, so measuring does not slow the database under test (counting documents on
    the embedded server did: its count walks the collection)."""
    return metric_total(ports, "distsync_messages_consumed_total", 'outcome="applied"')


def retries(*ports: int) -> float:
    """Batch transactions the services redid (write conflicts between replicas or batches)."""
    return metric_total(ports, "distsync_transaction_retries_total")


async def wait_applied(
    ports: list[int], n: float, timeout: float = 600, every_s: float = 1.0
) -> float:
    """Wait until the services have applied n messages; returns the time it happened.

    Reads /metrics once a second (a scrape costs the service a few ms of CPU, which at 4 Hz was
    about 3 % of what it spends on a run) and places the moment the count reached n by linear
    interpolation between the two readings around it."""
    t0 = time.perf_counter()
    prev_t, prev_c = t0, await asyncio.to_thread(applied_count, *ports)
    if prev_c >= n:
        return prev_t
    while time.perf_counter() - t0 < timeout:
        await asyncio.sleep(every_s)
        c = await asyncio.to_thread(applied_count, *ports)
        t = time.perf_counter()
        if c >= n:
            return prev_t + (t - prev_t) * (n - prev_c) / max(c - prev_c, 1e-9)
        prev_t, prev_c = t, c
    raise TimeoutError(f"fewer than {n} messages applied after {timeout}s")


async def bind_downstream(amqp: str, exchange: str, routing_key: str) -> None:
    """A downstream queue for the emitted events, as in production: unbound, every publish
    would come back as unroutable and be recorded as such (not the path worth measuring)."""
    conn = await aio_pika.connect(amqp)
    ch = await conn.channel()
    q = await ch.declare_queue(f"{exchange}.downstream", arguments={"x-max-length": 1000})
    await q.bind(exchange, routing_key)
    await conn.close()


@contextlib.asynccontextmanager
async def availability_stack() -> AsyncIterator[tuple[str, str, SecantusServer | None]]:
    """A throwaway vhost with the whole topology declared and availability's emitted events
    bound downstream, and a database: yields (AMQP URL, MongoDB URL, the embedded server or None
    when MONGODB_URL names one)."""
    with amqp_server() as base, isolated_vhost(base) as amqp, mongodb_server() as (mongo, srv):
        conn = await aio_pika.connect(amqp)
        await declare(await conn.channel(), full_topology(all_services()))
        await conn.close()
        await bind_downstream(amqp, "availability.events", "availability.#")
        yield amqp, mongo, srv


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
