"""Retention: how long the inbox and the outbox keep their documents, and the deduplication
horizon that makes forgetting an applied id safe.

- The inbox keeps an applied id at least until its event `time` is DISTSYNC_INBOX_RETENTION_S
  (14 days) old: ids live in time buckets (`shared.inbox`), and a bucket is dropped whole once
  its end is that old. Admission refuses a delivery whose event is older than the retention
  minus DISTSYNC_DEDUP_HORIZON_MARGIN_S (1 day: clock skew between replicas, a message admitted
  and still in flight) with failure-kind `beyond_dedup_horizon`: a forgotten id can never be
  applied a second time, and such an event is dead-lettered with its reason, never dropped.
- The single `inbox` collection of earlier releases, where an upgrade finds one, is read along
  with the buckets and purged by its time index in chunks until it is empty. It is not dropped
  by the service, since a replica of the earlier release may still be writing to it during a
  rolling upgrade; once every replica runs this release an operator may drop it when empty.
- The outbox keeps a sent document DISTSYNC_OUTBOX_RETENTION_S (7 days, for `distsync trace`)
  after it was sent. An unsent document is never deleted: `sent_at` is null until the relay has
  the broker's confirm, and a range on a date never matches null.
- A document without a date in the field (none of distsync's releases wrote one; a document
  written by hand could) is never matched by the purge either: it stays until someone looks.

Why a periodic purge and not TTL indexes, which earlier releases used: the embedded test
server (SecantusDB) runs its TTL sweeper by decoding every document of every collection with a
TTL index while it holds its global lock, so each sweep stalls every client for longer as the
collections grow (0.6-1.8 s over one simulation's outbox); the harness turns the sweeper off,
and then nothing expires at all. The purge deletes through a range on the indexed field, in
chunks of DISTSYNC_RETENTION_PURGE_CHUNK documents, each its own short command outside any
transaction, so no lock or transaction is held long and other work runs between chunks. It is
the same code on MongoDB, where it counts what it deleted
(`distsync_retention_deleted_total`), which a TTL monitor would not. The inbox has buckets
rather than a purge because it takes a document per message: deleting each id again cost the
embedded server more than recording it (0.40 against 0.25 ms, `benchmarks/purge_probe.py`), and
on MongoDB a delete is a write with its index entries too; dropping a collection is not paid
per document in the same way.

Changing the retention: the horizon must never be wider than the ids any replica still keeps,
also while a rolling change runs old and new settings side by side. To raise it by D, raise the
retention and the margin by D together (the horizon stays), then, D later, lower the margin
back. To lower it by D, first raise the margin by D on every replica (the horizon narrows), then
lower the retention and the margin together.

Every replica purges every DISTSYNC_RETENTION_PURGE_INTERVAL_S. Two purging at once is
harmless: a delete by filter is idempotent, a drop of a dropped collection does nothing, and
the later one finds less or nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING

from shared.bounds import _span as span_text
from shared.errors import PermanentError
from shared.inbox import INBOX, Inbox
from shared.logging import get_logger
from shared.metrics import RETENTION_DELETED
from shared.relay.layout import OUTBOX
from shared.service import TaskContext

log = get_logger("shared.retention")

RETENTION_TASK = "retention_purge"
SLICES = 20  # chunks whose bounds one read finds: the read stays bounded on a huge backlog


class BeyondDedupHorizon(PermanentError):
    """The event is older than the inbox remembers applied ids: applying it could apply it
    twice, so it goes to the DLQ at once with the reason."""

    kind = "beyond_dedup_horizon"


@dataclass(frozen=True, slots=True)
class DedupHorizon:
    """How old an event may be and still be checked against the inbox."""

    span: timedelta

    def problem(self, t: datetime, now: datetime) -> str | None:
        """Why an event of time `t` (aware) is refused at `now`, or None when it is inside."""
        if now - t <= self.span:
            return None
        return (
            f"event time {t.isoformat()} is {span_text(now - t)} before now ({now.isoformat()}), "
            f"beyond the deduplication horizon of {span_text(self.span)}: applied ids are kept "
            "only that long (DISTSYNC_INBOX_RETENTION_S minus DISTSYNC_DEDUP_HORIZON_MARGIN_S), "
            "so it could apply twice; a fact that old must be published again as a new event, "
            "with a new id and a current time"
        )

    def check(self, t: datetime, now: datetime) -> None:
        """Raise BeyondDedupHorizon when `t` lies beyond the horizon."""
        why = self.problem(t, now)
        if why is not None:
            raise BeyondDedupHorizon(why)


def dedup_horizon(settings: Any) -> DedupHorizon | None:
    """The horizon the settings give; None when the inbox keeps every id (DISTSYNC_INBOX_TTL
    false), and any time inside the event-time window may be applied."""
    if not settings.inbox_ttl:
        return None
    return DedupHorizon(
        timedelta(seconds=settings.inbox_retention_s - settings.dedup_horizon_margin_s)
    )


async def purge_expired(
    coll: Any, field: str, cutoff: datetime, chunk: int, counter: Any = None
) -> int:
    """Delete the documents whose `field` holds a date before `cutoff`, about `chunk` at a time;
    returns how many. One read finds the bounds of up to SLICES chunks (the field's values in
    index order, every `chunk`-th), then each chunk is one `delete_many` up to its bound. A chunk
    can exceed `chunk` by the documents sharing its bound's exact time. `counter` (a metric)
    counts each chunk as it goes, so a round cut short by an outage still counts what it did."""
    deleted = 0
    while True:
        cur = (
            coll.find({field: {"$lt": cutoff}}, {field: 1, "_id": 0})
            .sort(field, ASCENDING)
            .limit(chunk * SLICES)
        )
        times = [d[field] async for d in cur]
        if not times:
            return deleted
        bounds = times[chunk - 1 :: chunk]
        if len(times) % chunk:
            bounds.append(times[-1])
        this_pass = 0
        for bound in bounds:  # every bound is before the cutoff: all up to it have expired
            r = await coll.delete_many({field: {"$lte": bound}})
            this_pass += r.deleted_count
            if counter is not None and r.deleted_count:
                counter.inc(r.deleted_count)
        deleted += this_pass
        if len(times) < chunk * SLICES or not this_pass:  # none gone: never spin on them
            return deleted


async def purge(
    db: Any, service: str, settings: Any, now: datetime | None = None
) -> dict[str, int]:
    """One purge round: the inbox's expired buckets dropped (and the legacy collection purged
    by its time index), unless it keeps every id; the outbox's sent documents deleted. How many
    documents each lost."""
    now = now or datetime.now(UTC)
    out: dict[str, int] = {}
    if settings.inbox_ttl:
        out[INBOX] = await purge_inbox(Inbox.of(db, settings), service, settings, now)
    cutoff = now - timedelta(seconds=settings.outbox_retention_s)
    counter = RETENTION_DELETED.labels(service, OUTBOX)
    out[OUTBOX] = await _purge_logged(db[OUTBOX], OUTBOX, "sent_at", cutoff, settings, counter)
    return out


async def _purge_logged(
    coll: Any, name: str, field: str, cutoff: datetime, settings: Any, counter: Any
) -> int:
    """`purge_expired` in the settings' chunks, logged when it deleted anything."""
    t0 = time.perf_counter()
    n = await purge_expired(coll, field, cutoff, settings.retention_purge_chunk, counter)
    if n:
        log.info(
            "retention_purged",
            collection=name,
            deleted=n,
            before=cutoff.isoformat(),
            seconds=round(time.perf_counter() - t0, 3),
        )
    return n


async def purge_inbox(box: Inbox, service: str, settings: Any, now: datetime) -> int:
    """Drop the buckets whose end is older than the retention; purge the legacy collection."""
    counter = RETENTION_DELETED.labels(service, INBOX)
    await box.refresh(force=True)
    forgotten = 0
    cutoff = now - timedelta(seconds=settings.inbox_retention_s)
    for name in box.expired(now):
        t0 = time.perf_counter()
        n = await box.drop(name)
        forgotten += n
        counter.inc(n)
        log.info(
            "retention_dropped_bucket",
            collection=name,
            ids=n,
            before=cutoff.isoformat(),
            seconds=round(time.perf_counter() - t0, 3),
        )
    if box.has_legacy():
        forgotten += await _purge_logged(box.db[INBOX], INBOX, "time", cutoff, settings, counter)
    return forgotten


def export_zero(service: str) -> None:
    """Export the counters at 0 from the start, so that increase() sees the first purge."""
    for name in (INBOX, OUTBOX):
        RETENTION_DELETED.labels(service, name)


async def purge_task(ctx: TaskContext) -> None:
    """The periodic task the runtime runs for every service (`ServiceRuntime.start`)."""
    await purge(ctx.db, ctx.service, ctx.settings)
