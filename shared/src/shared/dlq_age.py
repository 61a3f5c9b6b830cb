"""The age of the oldest message in a service's DLQ: `distsync_dlq_oldest_message_age_seconds`.

Every service refreshes the figure for its own `<service>.dlq` (a periodic task the runtime
starts for each service, see `shared.runtime`), with its own RabbitMQ user. An empty DLQ
costs one passive declare. Otherwise the head message is read in place under the DLQ's lock,
as the dlq tools read it (`shared.dlq_head`); when it has been handed out too often, the whole
queue is renewed in order, published through `<service>.dlx` (a service's user may not write to
the default exchange).

The age is now minus the head's `last-failure-time`: when it was dead-lettered, i.e. how long
it has waited in the DLQ. Messages enter at the tail in that order, so the head has waited
longest. `first-failure-time` would not do: a replayed message that fails again keeps the
first failure of its original run, so a message back in the DLQ for a minute would read as days
old, and the head would not be the oldest by it. Messages dead-lettered by the broker (delivery
limit) carry no failure headers; their `x-death` time is used.

On RabbitMQ 3.x a returned message goes back at the tail, so the head can only be read by
walking the whole queue and handing it back in order; every walk raises each message's delivery
count, and the queue is republished every `DISTSYNC_DLQ_RENEW_AT` walks (10). A 100,000-event
chaos run with that walk every 30 s ended with 7 dead letters present twice in one DLQ (the
service logged each once; the renewal, which republishes and then acks, is the suspected cause,
not proven), so on 3.x the gauge is left unset unless `DISTSYNC_DLQ_AGE_WALK=true` (compose and
Kubernetes run RabbitMQ 4.x, where only the head is read).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import aiormq

from shared.amqp_wire import tolerate_undecodable_properties
from shared.dlq_head import IDLE_S, RENEW_AT, Head, depth, locked, read_head
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
    idle_s: float = IDLE_S,
) -> float | None:
    """The age of the head of `<service>.dlq` (0 when it is empty); None when another reader
    holds the queue, or when reading the head would take walking the whole queue and `walk` is
    off. `in_place` overrides what the broker's version says."""
    queue = dlq(service)
    tolerate_undecodable_properties()  # a DLQ must be readable whatever it holds
    conn = await aiormq.connect(
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
            m = await read_head(conn, queue, in_place=at_head, renew_at=renew_at, idle_s=idle_s)
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
    return 0.0 if m is None else age_of(m, datetime.now(UTC))


async def refresh(ctx: TaskContext, *, in_place: bool | None = None) -> None:
    """Set the gauge for the context's service; a busy queue keeps the last value."""
    if not ctx.settings.dlq_age_gauge:
        return
    walk = bool(getattr(ctx.settings, "dlq_age_walk", False))
    age = await oldest_age(
        ctx.service,
        ctx.settings.amqp_url,
        in_place=in_place,
        walk=walk,
        renew_at=ctx.settings.dlq_renew_at,
    )
    if age is not None:
        DLQ_OLDEST_AGE.labels(ctx.service).set(age)


TASK = PeriodicTask(DLQ_AGE_TASK, DLQ_AGE_INTERVAL_S, refresh)
