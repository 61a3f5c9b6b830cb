"""What each service instance and the database spent during live operation: CPU seconds and
messages applied between two readings (the go-live bulk load and process start-up left out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distsync_sim.simulate import cluster as cl
from distsync_sim.simulate import observe


@dataclass(frozen=True)
class Reading:
    cpu_s: dict[str, float]  # instance -> CPU seconds so far
    applied: dict[str, int]  # instance -> messages applied so far
    database_cpu_s: float | None  # the database process the run started, if any


async def read(cluster: cl.Cluster) -> Reading:
    cluster.sample_rss()  # samples CPU too
    procs = list(cluster.procs.values())
    pages = await observe.scrape([p.url for p in procs])
    by_url = {p.url: p.name for p in procs}
    applied = {
        by_url[u]: int(observe.service_stats(t)["consumed"].get("applied", 0))
        for u, t in pages.items()
    }
    srv = cluster.db_server
    proc = getattr(srv, "proc", None) if srv is not None else None
    db = cl.cpu_seconds(proc.pid) if proc is not None else None
    return Reading({p.name: p.cpu_s for p in procs}, applied, db)


def spent(before: Reading, after: Reading) -> dict[str, Any]:
    """Per instance: CPU seconds, messages applied and CPU ms per message; and the database's
    CPU ms per message applied over all instances."""
    out: dict[str, Any] = {}
    total = 0
    for name, cpu in after.cpu_s.items():
        cpu_s = cpu - before.cpu_s.get(name, 0.0)
        applied = after.applied.get(name, 0) - before.applied.get(name, 0)
        total += max(applied, 0)
        out[name] = {
            "cpu_s": round(cpu_s, 2),
            "applied": applied,
            "cpu_ms_per_message": round(cpu_s / applied * 1000, 3) if applied > 0 else None,
        }
    if before.database_cpu_s is not None and after.database_cpu_s is not None:
        db = after.database_cpu_s - before.database_cpu_s
        out["database"] = {
            "cpu_s": round(db, 2),
            "applied": total,
            "cpu_ms_per_message": round(db / total * 1000, 3) if total else None,
        }
    return out
