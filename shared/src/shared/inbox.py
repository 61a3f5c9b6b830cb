"""The inbox: the ids a service has applied, so that a redelivery has no second effect.

Ids live in time buckets, one collection each, named by the bucket's start and end in UTC:
`inbox_20261205T000000_20261208T120000`. An id applied at `now` for an event of time `t` goes
to the bucket that holds max(t, now), usually the current one; every batch is checked against
every bucket still kept (`Inbox.seen`), so an id is recognised however late it comes again and
under whatever `time` it is resent (the ingress gives a file re-sent days later the same ids
and a new time, for instance).

Retention (`shared.retention`) drops a bucket whole once its end is DISTSYNC_INBOX_RETENTION_S
old. Every id in it is older than that by its event time then, and admission already refuses a
delivery that old (the deduplication horizon), so a forgotten id is never applied twice. A drop
costs the database a small part of deleting the same ids one by one, which is what the purge of
the single inbox of earlier releases did (`benchmarks/purge_probe.py`), and a bucket needs no
index on the time. DISTSYNC_INBOX_BUCKET_S sets the width (default a quarter of the retention):
narrower buckets keep fewer ids past the retention (at most one width) but make each batch read
more collections (about retention / width + 1).

Without retention (DISTSYNC_INBOX_TTL=false) every id goes to the one collection `inbox` and is
kept. Releases before the buckets used that collection with retention too: while it exists it
is read along with the buckets, purged by its time index, and dropped once empty.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import BulkWriteError, CollectionInvalid, DuplicateKeyError, OperationFailure

INBOX = "inbox"  # the one collection without retention; the legacy one with it
PREFIX = "inbox_"
DUPLICATE_KEY = 11000
TIME_INDEX = "time_1"  # the event time, by which the legacy collection is purged
LEGACY_TTL = "forget_ttl"  # the TTL index releases before the purge expired ids by
LIST_EVERY_S = 30.0  # how long a listing of the buckets is trusted
SKEW_S = 60.0  # how far ahead another replica's clock may run: the next bucket is read so long
_GONE = (26, 27)  # NamespaceNotFound, IndexNotFound
_EXISTS = 48  # NamespaceExists
_FMT = "%Y%m%dT%H%M%S"


class AlreadyApplied(Exception):
    """An id of the batch is in the inbox already: the batch must be redone with a read."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """One collection of ids: those applied for times in [start, end)."""

    start: datetime
    end: datetime

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.start.strftime(_FMT)}_{self.end.strftime(_FMT)}"


def parse(name: str) -> Bucket | None:
    """The bucket a collection name stands for; None for any other name."""
    if not name.startswith(PREFIX):
        return None
    parts = name[len(PREFIX) :].split("_")
    if len(parts) != 2:
        return None
    try:
        start, end = (datetime.strptime(p, _FMT).replace(tzinfo=UTC) for p in parts)
    except ValueError:
        return None
    return Bucket(start, end) if end > start else None


def bucket_at(t: datetime, width_s: int) -> Bucket:
    """The bucket of width `width_s` seconds (aligned on the epoch) that holds `t`."""
    k = math.floor(t.timestamp() / width_s) * width_s
    return Bucket(datetime.fromtimestamp(k, UTC), datetime.fromtimestamp(k + width_s, UTC))


def is_inbox(name: str) -> bool:
    return name == INBOX or parse(name) is not None


async def collections(db: Any) -> list[str]:
    """Every inbox collection of the database, buckets in time order, the legacy one first."""
    names = [n for n in await db.list_collection_names() if is_inbox(n)]
    return sorted(names, key=lambda n: (n != INBOX, n))


async def count(db: Any, flt: dict[str, Any] | None = None) -> int:
    """How many ids (matching `flt`) all inbox collections hold together."""
    return sum([await db[n].count_documents(flt or {}) for n in await collections(db)])


async def estimated(db: Any) -> int:
    """About how many ids all inbox collections hold (from their metadata on MongoDB)."""
    return sum([int(await db[n].estimated_document_count()) for n in await collections(db)])


async def find(
    db: Any, flt: dict[str, Any], projection: dict[str, Any] | None = None
) -> AsyncIterator[dict[str, Any]]:
    """The documents matching `flt` in every inbox collection (tools and tests)."""
    for n in await collections(db):
        async for d in db[n].find(flt, projection):
            yield d


class Inbox:
    """The inbox of one service's database, with what it last listed of its buckets."""

    def __init__(
        self,
        db: Any,
        *,
        retention_s: float | None,
        bucket_s: float | None = None,
        index_correlation: bool = False,
    ) -> None:
        self.db = db
        self.retention = timedelta(seconds=retention_s) if retention_s else None
        width = bucket_s or (retention_s or 0) / 4
        self.width = max(1, round(width))
        self.index_correlation = index_correlation
        self._known: set[str] = set()  # inbox collections seen to exist
        self._listed_at = -math.inf

    @classmethod
    def of(cls, db: Any, settings: Any) -> Inbox:
        """The inbox the service settings describe."""
        return cls(
            db,
            retention_s=settings.inbox_retention_s if settings.inbox_ttl else None,
            bucket_s=settings.inbox_bucket_s,
            index_correlation=settings.inbox_correlation_index,
        )

    @property
    def bucketed(self) -> bool:
        return self.retention is not None

    def target(self, t: datetime, now: datetime) -> str:
        """The collection an id applied at `now` for an event of time `t` goes to."""
        if self.retention is None:
            return INBOX
        return bucket_at(max(t, now), self.width).name

    def kept(self, name: str, now: datetime) -> bool:
        """Whether retention keeps the collection at `now` (the legacy one: while it exists)."""
        b = parse(name)
        return b is None or self.retention is None or b.end > now - self.retention

    def readable(self, now: datetime) -> list[str]:
        """Every collection that may hold an id applied before: the kept ones last listed, the
        current bucket by the clock, and in the last SKEW_S of it the next one, which a replica
        whose clock runs ahead may have filled since the listing (a read of a collection that
        does not exist finds nothing)."""
        if self.retention is None:
            return [INBOX]
        here = bucket_at(now, self.width)
        names = {n for n in self._known if self.kept(n, now)}
        names.add(here.name)
        if (here.end - now).total_seconds() <= SKEW_S:
            names.add(bucket_at(here.end, self.width).name)
        return sorted(names)

    async def refresh(self, force: bool = False) -> None:
        """List the inbox collections again when the last listing is older than LIST_EVERY_S."""
        if force or time.monotonic() - self._listed_at >= LIST_EVERY_S:
            self._known = set(await collections(self.db))
            self._listed_at = time.monotonic()

    async def prepare(self, times: Iterable[datetime], now: datetime) -> None:
        """Before a batch's transaction: make sure the collections its ids go to exist (created
        outside the transaction, as MongoDB wants), and that the listing is fresh enough."""
        await self.refresh()
        for name in {self.target(t, now) for t in times} - self._known:
            await self.create(name)

    async def create(self, name: str) -> None:
        """Create one inbox collection (and its opt-in index); one another replica created
        first is fine."""
        try:
            await self.db.create_collection(name)
        except CollectionInvalid:
            pass
        except OperationFailure as e:
            if e.code != _EXISTS:
                raise
        if self.index_correlation:
            await self.db[name].create_index("correlationid", sparse=True)
        self._known.add(name)

    async def seen(
        self, ids: Sequence[str], session: Any, now: datetime, skip: Iterable[str] = ()
    ) -> set[str]:
        """Which of `ids` were applied before, read in the batch's transaction from every
        collection that may hold them but those in `skip` (the ones the batch inserts into,
        where a duplicate key tells)."""
        if not ids:
            return set()
        leave = set(skip)
        found: set[str] = set()
        for name in self.readable(now):
            if name in leave:
                continue
            cur = self.db[name].find({"_id": {"$in": list(ids)}}, {"_id": 1}, session=session)
            found.update([d["_id"] async for d in cur])
        return found

    async def record(
        self,
        entries: Sequence[tuple[str, str, datetime, str | None]],
        now: datetime,
        session: Any,
    ) -> None:
        """Insert (id, type, event time, correlation id) rows, each into its bucket; a racing
        replica gets a conflict, an id already in that bucket raises AlreadyApplied."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for i, t, tm, c in entries:
            doc = {"_id": i, "type": t, "time": tm, "correlationid": c, "at": now}
            groups.setdefault(self.target(tm, now), []).append(doc)
        for name, docs in groups.items():
            try:
                await self.db[name].insert_many(docs, session=session)
            except DuplicateKeyError as e:
                raise AlreadyApplied(str(e)) from e
            except BulkWriteError as e:
                errors = e.details.get("writeErrors") or []
                if errors and all(w.get("code") == DUPLICATE_KEY for w in errors):
                    raise AlreadyApplied(str(e)) from e
                raise

    def has_legacy(self) -> bool:
        """Whether the single collection of earlier releases was there at the last listing
        (with retention on; without it, it is the inbox)."""
        return self.retention is not None and INBOX in self._known

    def expired(self, now: datetime) -> list[str]:
        """The buckets retention drops at `now`, from the last listing."""
        return sorted(n for n in self._known if not self.kept(n, now))

    async def drop(self, name: str) -> int:
        """Drop one bucket; returns about how many ids it held."""
        n = int(await self.db[name].estimated_document_count())
        await self.db[name].drop()
        self._known.discard(name)
        return n

    async def setup(self, now: datetime | None = None) -> None:
        """At start: the legacy collection's indexes (see the module), then the current bucket."""
        self._known = set(await collections(self.db))
        self._listed_at = time.monotonic()
        legacy = self.db[INBOX]
        if self.retention is None or INBOX in self._known:
            if self.index_correlation:
                await legacy.create_index("correlationid", sparse=True)
            names = [ix["name"] async for ix in await legacy.list_indexes()]
            if LEGACY_TTL in names:
                await drop_index(legacy, LEGACY_TTL)
            if self.retention is not None:
                await legacy.create_index("time", name=TIME_INDEX)  # purged by it, then dropped
            elif TIME_INDEX in names:
                await drop_index(legacy, TIME_INDEX)
        if self.retention is None:
            if INBOX not in self._known:
                await self.create(INBOX)
            return
        now = now or datetime.now(UTC)
        await self.prepare([], now)
        await self.create(self.target(now, now))


async def drop_index(coll: Any, name: str) -> None:
    """Drop an index; one another replica starting at the same moment dropped first is fine."""
    try:
        await coll.drop_index(name)
    except OperationFailure as e:
        if e.code not in _GONE:
            raise
