"""Dead-letter operations for on-call staff: list, show, replay, archive, purge, restore, export.

Reading never consumes: one channel takes messages unacknowledged and hands them back with
`basic.nack(requeue)` in delivery order, so they stay in place and in order. Replay, purge and
restore write first (a confirmed, `mandatory` publish; an archive insert) and only then ack, so a
crash in between duplicates at worst (the inbox dedupes by CloudEvent id) and never loses.

Any message is readable, however malformed: `message` decodes bodies defensively (deep nesting,
bytes that are not UTF-8, huge ones show as an excerpt) and `wire` reads AMQP properties the
client library cannot decode instead of losing the connection on them.

The package, by concern: `settings` and `errors`; `values` (AMQP values through JSON and MongoDB),
`wire` (undecodable properties) and `message` (`DeadLetter`); `selector` (which messages, which
queue); `broker` (connection, confirmed publishes); `scan` (walking a queue under its lock,
renewal); `outcome` and `admin` (the archive and audit log in MongoDB); `access` (who may
use the admin API); the operations
`reading` (list, show, export), `replaying` and `archiving` (archive, purge, restore). Import from
`distsync_ops.dlq` itself.
"""

from __future__ import annotations

from distsync_ops.dlq.admin import ARCHIVE, AUDIT, MONGO_HINT, Admin, audit_log, audited
from distsync_ops.dlq.archiving import _archive_doc, archive, new_archive_id, read_jsonl, restore
from distsync_ops.dlq.broker import PUBLISH_ERRORS, Broker, amqp_properties, same_headers
from distsync_ops.dlq.errors import DlqError, NothingToDo, QueueBusy, UsageError
from distsync_ops.dlq.message import (
    BROKER_COUNTERS,
    H_PREV_ATTEMPTS,
    PROPERTY_NAMES,
    DeadLetter,
    group_id,
)
from distsync_ops.dlq.outcome import Outcome, Progress
from distsync_ops.dlq.reading import (
    Group,
    QueueSummary,
    export,
    head,
    list_queues,
    peek,
    show,
    summarize,
)
from distsync_ops.dlq.replaying import (
    Hook,
    RateLimiter,
    ReplayOptions,
    replay,
    replay_headers,
    replay_target,
)
from distsync_ops.dlq.scan import Item, Scan, renewal_due, scanning
from distsync_ops.dlq.selector import Selector, known_targets, queue_of, who
from distsync_ops.dlq.settings import DlqSettings
from distsync_ops.dlq.values import _text, amqp_safe, from_jsonable, iso, parse_time, to_jsonable
from shared.amqp_batch import PropertiesWithoutId
from shared.topology import UNROUTED

__all__ = [
    "ARCHIVE",
    "AUDIT",
    "BROKER_COUNTERS",
    "H_PREV_ATTEMPTS",
    "MONGO_HINT",
    "PROPERTY_NAMES",
    "PUBLISH_ERRORS",
    "UNROUTED",
    "Admin",
    "Broker",
    "DeadLetter",
    "DlqError",
    "DlqSettings",
    "Group",
    "Hook",
    "Item",
    "NothingToDo",
    "Outcome",
    "Progress",
    "PropertiesWithoutId",
    "QueueBusy",
    "QueueSummary",
    "RateLimiter",
    "ReplayOptions",
    "Scan",
    "Selector",
    "UsageError",
    "_archive_doc",
    "_text",
    "amqp_properties",
    "amqp_safe",
    "archive",
    "audit_log",
    "audited",
    "export",
    "from_jsonable",
    "group_id",
    "head",
    "iso",
    "known_targets",
    "list_queues",
    "new_archive_id",
    "parse_time",
    "peek",
    "queue_of",
    "read_jsonl",
    "renewal_due",
    "replay",
    "replay_headers",
    "replay_target",
    "restore",
    "same_headers",
    "scanning",
    "show",
    "summarize",
    "to_jsonable",
    "who",
]
