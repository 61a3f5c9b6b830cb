"""Replicas and partitions of the spawned services: what `--replicas` and `--partitions` ask
for, and the queues a drained run must find empty."""

from __future__ import annotations

from distsync_sim.simulate.cluster import SERVICES
from shared.topology import partition_queue


def replica_counts(specs: list[str] | None) -> dict[str, int]:
    """`N` (every consuming service) and `SERVICE=N`, comma-separated or repeated; the last
    word on a service wins."""
    out: dict[str, int] = {}
    for spec in specs or ():
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, n = part.rpartition("=")
            if not n.isdigit() or int(n) < 1:
                raise ValueError(f"replicas: {part!r} is not N or SERVICE=N with N >= 1")
            if name and name not in SERVICES:
                raise ValueError(f"replicas: unknown service {name!r} ({', '.join(SERVICES)})")
            for svc in [name] if name else SERVICES:
                out[svc] = int(n)
    return out


def partitions_env(partitions: int | None) -> dict[str, str]:
    """The setting each spawned service reads (shared.settings `partitions`)."""
    if partitions is None:
        return {}
    if partitions < 1:
        raise ValueError("partitions: at least 1")
    return {"DISTSYNC_PARTITIONS": str(partitions)}


def partition_queues(partitions: int) -> list[str]:
    """Every consuming service's partition queues (none with one partition)."""
    if partitions <= 1:
        return []
    return [partition_queue(s, i) for s in SERVICES for i in range(partitions)]
