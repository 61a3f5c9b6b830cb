"""Dead-letter operations for on-call staff: list, show, replay, archive, purge, restore, export.

Reading never consumes: one channel takes messages unacknowledged and hands them back with
`basic.nack(requeue)` in delivery order, so they stay in place and in order. Replay, purge and
restore write first (a confirmed, `mandatory` publish; an archive insert) and only then ack, so a
crash in between duplicates at worst (the inbox dedupes by CloudEvent id) and never loses.

Any message is readable, however malformed: `message` decodes bodies defensively (deep nesting,
bytes that are not UTF-8, huge ones show as an excerpt), and every connection reads AMQP
properties the client library cannot decode leniently (`shared.amqp_wire`) instead of losing
the connection on them.

The package, by concern: `settings` and `errors`; `values` (AMQP values through JSON and MongoDB)
and `message` (`DeadLetter`, on the runtime's `shared.dlq_message`); `selector` (which messages,
which queue); `broker` (connection, confirmed publishes); `scan` (walking a queue under its lock,
renewal); `outcome` and `admin` (the archive and audit log in MongoDB); `access` (who may use
the admin API); the operations `reading` (list, show, export), `replaying` and `archiving`
(archive, purge, restore). Import from `distsync_ops.dlq` itself.
"""

from __future__ import annotations

from distsync_ops.dlq.admin import Admin, audit_log
from distsync_ops.dlq.archiving import archive, read_jsonl, restore
from distsync_ops.dlq.broker import Broker, amqp_properties, same_headers
from distsync_ops.dlq.errors import DlqError, NothingToDo, QueueBusy, UsageError
from distsync_ops.dlq.message import H_PREV_ATTEMPTS, PROPERTY_NAMES, DeadLetter, group_id
from distsync_ops.dlq.outcome import Outcome
from distsync_ops.dlq.reading import QueueSummary, export, list_queues, show, summarize
from distsync_ops.dlq.replaying import RateLimiter, ReplayOptions, replay, replay_headers
from distsync_ops.dlq.scan import scanning
from distsync_ops.dlq.selector import Selector, known_targets, queue_of, who
from distsync_ops.dlq.settings import DlqSettings
from distsync_ops.dlq.values import amqp_safe, from_jsonable, parse_time, to_jsonable
from shared.amqp_batch import PropertiesWithoutId
from shared.dlq_message import BROKER_COUNTERS
from shared.topology import UNROUTED

__all__ = [
    "BROKER_COUNTERS",
    "H_PREV_ATTEMPTS",
    "PROPERTY_NAMES",
    "UNROUTED",
    "Admin",
    "Broker",
    "DeadLetter",
    "DlqError",
    "DlqSettings",
    "NothingToDo",
    "Outcome",
    "PropertiesWithoutId",
    "QueueBusy",
    "QueueSummary",
    "RateLimiter",
    "ReplayOptions",
    "Selector",
    "UsageError",
    "amqp_properties",
    "amqp_safe",
    "archive",
    "audit_log",
    "export",
    "from_jsonable",
    "group_id",
    "known_targets",
    "list_queues",
    "parse_time",
    "queue_of",
    "read_jsonl",
    "replay",
    "replay_headers",
    "restore",
    "same_headers",
    "scanning",
    "show",
    "summarize",
    "to_jsonable",
    "who",
]
