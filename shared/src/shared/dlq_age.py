"""The age of the oldest message in a service's DLQ: `distsync_dlq_oldest_message_age_seconds`.

Every service refreshes the figure for its own `<service>.dlq` (a periodic task the runtime
starts for each service, see `shared.runtime`), with its own RabbitMQ user. An empty DLQ
costs one passive declare; otherwise the head is read in place under the DLQ's lock, as the dlq
tools read it (`shared.dlq_head`).

The age is now minus the head's `last-failure-time`: how long it has waited in the DLQ, and
messages enter at the tail, so the head has waited longest. `first-failure-time` would not do:
a replayed message that fails again keeps the first failure of its original run. Messages
dead-lettered by the broker (delivery limit) carry no failure headers; their `x-death` time is
used.

On RabbitMQ 3.x the head can only be read by walking the whole queue, which hands every message
out and back and now and then republishes them all, so there the gauge stays unset unless
`DISTSYNC_DLQ_AGE_WALK=true` (docs/benchmarks.md says why). Compose and Kubernetes run RabbitMQ
4.x, where only the head is read.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from shared.amqp_wire import tolerate_undecodable_properties
from shared.dlq_head import RENEW_AT, depth, locked, read_head
from shared.dlq_message import Head
from shared.endpoints import connect_first
from shared.logging import get_logger
from shared.metrics import DLQ_OLDEST_AGE
from shared.service import PeriodicTask, TaskContext
from shared.topology import dlq, dlq_lock

log = get_logger("shared.dlq_age")

DLQ_AGE_TASK = "dlq_age_gauge"
DLQ_AGE_INTERVAL_S = 30.0

# A head message with no time at all (published into the DLQ by hand): its age counts from
# when this process first saw it there. queue -> (message identity, wall-clock seconds)
_first_seen: dict[str, tuple[str, float]] = {}
# queues whose head cannot be read without walking them, already reported once
_walk_skipped: set[str] = set()


def requeues_at_head(server_version: str) -> bool:
    """RabbitMQ 4.x quorum queues give a returned message back at the head; 3.x ones without
    a delivery limit (our DLQs declare none) at the tail. Unknown: assume the tail (safe)."""
    major = server_version.strip().split(".", 1)[0]
    return major.isdigit() and int(major) >= 4


def server_version(conn: Any) -> str:
    """What the broker announced when the connection opened (`server_properties.version`)."""
    props = getattr(conn, "server_properties", None) or {}
    v = props.get("version", "") if isinstance(props, dict) else ""
    return v.decode() if isinstance(v, (bytes, bytearray)) else str(v)


def age_of(m: Head, now: datetime) -> float:
    """Seconds since `m` was dead-lettered (never negative: clocks differ between hosts)."""
    t = m.last_failure
    if t is not None:
        _first_seen.pop(m.queue, None)
        return max(0.0, (now - t).total_seconds())
    seen = _first_seen.get(m.queue)
    if seen is None or seen[0] != m.identity:
        seen = _first_seen[m.queue] = (m.identity, now.timestamp())
    return max(0.0, now.timestamp() - seen[1])


async def oldest_age(
    service: str,
    amqp_url: str,
    *,
    in_place: bool | None = None,
    walk: bool = True,
    renew_at: int = RENEW_AT,
) -> float | None:
    """The age of the head of `<service>.dlq` (0 when it is empty); None when another reader
    holds the queue, or when reading the head would take walking the whole queue and `walk` is
    off. `in_place` overrides what the broker's version says."""
    queue = dlq(service)
    tolerate_undecodable_properties()  # a DLQ must be readable whatever it holds
    conn = await connect_first(
        amqp_url, client_properties={"connection_name": f"distsync-{service}-dlq-age"}
    )
    try:
        if await depth(conn, queue) == 0:
            _first_seen.pop(queue, None)
            return 0.0
        at_head = requeues_at_head(server_version(conn)) if in_place is None else in_place
        if not at_head and not walk:
            if queue not in _walk_skipped:
                _walk_skipped.add(queue)
                log.info("dlq_age_needs_rabbitmq_4", queue=queue, setting="DISTSYNC_DLQ_AGE_WALK")
            return None
        async with locked(conn, dlq_lock(queue)) as held:
            if not held:
                log.info("dlq_age_skipped_queue_busy", queue=queue)
                return None
            m = await read_head(conn, queue, in_place=at_head, renew_at=renew_at)
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
    return 0.0 if m is None else age_of(m, datetime.now(UTC))


async def refresh(ctx: TaskContext) -> None:
    """Set the gauge for the context's service; a busy queue keeps the last value."""
    s = ctx.settings
    if not s.dlq_age_gauge:
        return
    age = await oldest_age(ctx.service, s.amqp_url, walk=s.dlq_age_walk, renew_at=s.dlq_renew_at)
    if age is not None:
        DLQ_OLDEST_AGE.labels(ctx.service).set(age)


TASK = PeriodicTask(DLQ_AGE_TASK, DLQ_AGE_INTERVAL_S, refresh)
