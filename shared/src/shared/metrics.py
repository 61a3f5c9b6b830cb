"""Runtime metrics every service exports (`distsync_<noun>_total`, `_seconds`; never ids)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)

CONSUMED = Counter(
    "distsync_messages_consumed_total",
    "Messages taken from the service queue, by event type and outcome "
    "(applied, duplicate, dead_lettered, retried)",
    ["service", "type", "outcome"],
)
PUBLISHED = Counter(
    "distsync_messages_published_total",
    "Messages published with a broker confirm, by exchange kind and outcome",
    ["service", "type", "outcome"],
)
FAILED = Counter(
    "distsync_messages_failed_total",
    "Handling failures by event type and failure kind",
    ["service", "type", "kind"],
)
DLQ_PUBLISHED = Counter(
    "distsync_dlq_published_total",
    "Messages this service sent to its dead-letter queue, by reason kind",
    ["service", "type", "kind"],
)
HANDLER_SECONDS = Histogram(
    "distsync_handler_seconds",
    "Time to handle one batch transaction (inbox + domain + outbox), per message",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "distsync_batch_messages",
    "Messages per committed batch",
    ["service"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 200, 300),
)
EVENT_LAG = Histogram(
    "distsync_event_lag_seconds",
    "Event-time lag: commit time minus the event's `time` at its source",
    ["service", "type"],
    buckets=LATENCY_BUCKETS,
)
TXN_RETRIES = Counter(
    "distsync_transaction_retries_total",
    "Batch transactions retried after a transient error (write conflict, connection loss)",
    ["service", "reason"],
)
OUTBOX_BACKLOG = Gauge(
    "distsync_outbox_backlog",
    "Outbox events written but not yet confirmed by the broker",
    ["service"],
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "distsync_outbox_oldest_seconds",
    "Age of the oldest unsent outbox event",
    ["service"],
)
OUTBOX_DELIVERY_SECONDS = Histogram(
    "distsync_outbox_delivery_seconds",
    "Time from outbox write to broker confirm",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_MOVED_ASIDE = Counter(
    "distsync_outbox_events_moved_aside_total",
    "Outbox events the relay moved aside to the service's DLQ instead of publishing them (the "
    "broker cannot take them, or they break the service's published contract)",
    ["service"],
)
OUTBOX_LEADER = Gauge(
    "distsync_outbox_relay_leader",
    "1 when this replica holds the outbox relay lease",
    ["service"],
)
DLQ_OLDEST_AGE = Gauge(
    "distsync_dlq_oldest_message_age_seconds",
    "Seconds since the message at the head of the service's DLQ was dead-lettered (its "
    "last-failure-time); 0 while the DLQ is empty (refreshed every 30 s, see shared.dlq_age)",
    ["service"],
)
UP = Gauge("distsync_service_up", "1 while the service runs", ["service"])
BROKER_CONNECTED = Gauge(
    "distsync_broker_connected", "1 while the AMQP connection is open", ["service"]
)
SESSIONS_KILLED = Counter(
    "distsync_dead_sessions_killed_total",
    "Database sessions of dead processes killed, so their open transactions stop blocking",
    ["service"],
)
PARTITIONS_HELD = Gauge(
    "distsync_partitions_held",
    "Partitions this replica is subscribed to and has received from in the last seconds",
    ["service"],
)
PARTITION_HANDOFFS = Counter(
    "distsync_partition_handoffs_total",
    "Partitions this replica gave up, finishing its messages first (reason: balance, stop)",
    ["service", "reason"],
)
ROUTER_ACTIVE = Gauge(
    "distsync_partition_router_active",
    "1 while this replica holds the router lock and moves the service queue into partitions",
    ["service"],
)
ROUTED = Counter(
    "distsync_partition_routed_total",
    "Messages the router moved from the service queue into a partition",
    ["service"],
)
RETENTION_DELETED = Counter(
    "distsync_retention_deleted_total",
    "Documents the retention purge deleted: inbox ids past DISTSYNC_INBOX_RETENTION_S, sent "
    "outbox documents past DISTSYNC_OUTBOX_RETENTION_S (see shared.retention)",
    ["service", "collection"],
)
