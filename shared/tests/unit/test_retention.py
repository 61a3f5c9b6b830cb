"""Retention without a database: the deduplication horizon admission holds events to, and the
purge's chunked deletes against an in-memory collection that answers as MongoDB does (a range
on a date matches only dates: never null, never a missing field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel, ValidationError

from shared import inbox, retention
from shared.consume.admission import Admission
from shared.envelope import build
from shared.inbox import INBOX
from shared.relay.layout import OUTBOX
from shared.service import Route, ServiceDefinition
from shared.settings import ServiceSettings

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


class Thing(BaseModel):
    key: str


async def _ignore(msg: Any, uow: Any) -> None:
    del msg, uow


SVC = ServiceDefinition(
    name="ret-unit", routes=(Route("thing.happened", Thing, _ignore, ("wms.events",)),)
)


def delivery(at: datetime) -> Any:
    body = build("thing.happened", {"key": "a"}, source="wms/t", time=at).to_json_bytes()
    return SimpleNamespace(
        body=body, exchange="wms.events", routing_key="thing.happened", headers={}
    )


def test_the_horizon_is_the_inbox_retention_less_the_margin_and_off_with_the_inbox_ttl() -> None:
    defaults = ServiceSettings()
    assert defaults.inbox_retention_s == 14 * 86400 and defaults.dedup_horizon_margin_s == 86400
    assert defaults.outbox_retention_s == 7 * 86400
    assert retention.dedup_horizon(defaults) == retention.DedupHorizon(13 * DAY)
    assert retention.dedup_horizon(ServiceSettings(inbox_ttl=False)) is None
    short = ServiceSettings(inbox_retention_s=60, dedup_horizon_margin_s=15)
    assert retention.dedup_horizon(short) == retention.DedupHorizon(timedelta(seconds=45))


def test_a_margin_that_swallows_the_retention_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="inbox_retention_s must exceed"):
        ServiceSettings(inbox_retention_s=86400, dedup_horizon_margin_s=86400)
    ServiceSettings(inbox_retention_s=86400, dedup_horizon_margin_s=86400, inbox_ttl=False)


def test_admission_dead_letters_an_event_older_than_the_horizon_with_its_reason() -> None:
    admission = Admission(SVC, None, retention.DedupHorizon(13 * DAY))
    now = datetime.now(UTC)
    assert admission.parse(delivery(now - 13 * DAY + timedelta(minutes=1))).envelope.id
    with pytest.raises(retention.BeyondDedupHorizon) as e:
        admission.parse(delivery(now - 13 * DAY - timedelta(minutes=1)))
    assert e.value.kind == "beyond_dedup_horizon"
    assert "beyond the deduplication horizon of 13 days" in str(e.value)
    assert "DISTSYNC_INBOX_RETENTION_S" in str(e.value)
    # without a horizon (DISTSYNC_INBOX_TTL=false) only the event-time window counts
    assert Admission(SVC, None).parse(delivery(now - 400 * DAY)).envelope.id


class FakeCollection:
    """Just what the purge uses: find(filter on one field, projection).sort().limit(), iterated,
    and delete_many({field: {"$lte": bound}}); with the type bracketing of MongoDB's ranges."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.deletes: list[int] = []  # documents each delete_many removed
        self.reads = 0

    def find(self, flt: dict[str, Any], projection: dict[str, Any]) -> FakeCollection:
        ((self._field, cond),) = flt.items()
        self._lt = cond["$lt"]
        return self

    def sort(self, field: str, direction: int) -> FakeCollection:
        assert field == self._field and direction == 1
        return self

    def limit(self, n: int) -> FakeCollection:
        self.reads += 1
        self._rows = sorted(
            (d for d in self.docs if self._before(d.get(self._field), self._lt, strict=True)),
            key=lambda d: d[self._field],
        )[:n]
        return self

    def __aiter__(self) -> FakeCollection:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if not self._rows:
            raise StopAsyncIteration
        return {self._field: self._rows.pop(0)[self._field]}

    async def delete_many(self, flt: dict[str, Any]) -> Any:
        ((field, cond),) = flt.items()
        keep = [d for d in self.docs if not self._before(d.get(field), cond["$lte"], strict=False)]
        n = len(self.docs) - len(keep)
        self.docs = keep
        self.deletes.append(n)
        return SimpleNamespace(deleted_count=n)

    @staticmethod
    def _before(v: Any, bound: datetime, *, strict: bool) -> bool:
        if not isinstance(v, datetime):  # null, missing, a string: never in a date range
            return False
        return v < bound if strict else v <= bound


async def test_the_purge_deletes_only_expired_documents_in_bounded_chunks() -> None:
    cutoff = NOW - 14 * DAY
    expired = [{"_id": i, "time": cutoff - timedelta(seconds=i + 1)} for i in range(23)]
    kept = [
        {"_id": "recent", "time": cutoff + timedelta(seconds=1)},
        {"_id": "at-cutoff", "time": cutoff},
        {"_id": "no-time"},
        {"_id": "null-time", "time": None},
        {"_id": "text-time", "time": "2001-01-01T00:00:00Z"},
    ]
    coll = FakeCollection(expired + kept)
    assert await retention.purge_expired(coll, "time", cutoff, chunk=5) == 23
    assert sorted(d["_id"] for d in coll.docs) == sorted(d["_id"] for d in kept)
    assert coll.deletes == [5, 5, 5, 5, 3]
    assert await retention.purge_expired(coll, "time", cutoff, chunk=5) == 0


async def test_a_backlog_larger_than_one_read_is_purged_over_several_reads() -> None:
    cutoff = NOW
    coll = FakeCollection(
        [{"_id": i, "time": cutoff - timedelta(milliseconds=i + 1)} for i in range(250)]
    )
    assert await retention.purge_expired(coll, "time", cutoff, chunk=3) == 250
    assert coll.docs == [] and max(coll.deletes) == 3
    assert coll.reads == 5  # the bounds of 60 documents (3 x SLICES) per read


async def test_a_chunk_grows_only_by_documents_sharing_its_bound() -> None:
    t = NOW - 30 * DAY
    coll = FakeCollection([{"_id": i, "time": t} for i in range(7)])
    assert await retention.purge_expired(coll, "time", NOW, chunk=3) == 7
    assert coll.deletes[0] == 7 and sum(coll.deletes) == 7


def deleted(service: str, collection: str) -> float:
    v = REGISTRY.get_sample_value(
        "distsync_retention_deleted_total", {"service": service, "collection": collection}
    )
    return v or 0.0


class FakeDb(dict[str, FakeCollection]):
    """Collections by name, as many as a purge round asks for."""

    dropped: list[str]

    def __init__(self, colls: dict[str, FakeCollection]) -> None:
        super().__init__(colls)
        self.dropped = []

    async def list_collection_names(self) -> list[str]:
        return list(self)

    def __missing__(self, name: str) -> FakeCollection:
        return FakeCollection([])


async def _estimate(coll: FakeCollection) -> int:
    return len(coll.docs)


async def test_a_round_drops_expired_buckets_purges_the_legacy_inbox_and_keeps_unsent() -> None:
    settings = ServiceSettings()  # 14 days kept, buckets of 3.5 days
    width = round(settings.inbox_retention_s / 4)
    assert inbox.Inbox.of(FakeDb({}), settings).width == width
    old = inbox.bucket_at(NOW - 18 * DAY, width)  # ends 14.5-18 days ago: dropped
    edge = inbox.bucket_at(old.end, width)  # ends within the last 14 days: kept
    assert old.end <= NOW - 14 * DAY < edge.end
    buckets = {
        b.name: FakeCollection([{"_id": f"{b.name}-{i}"} for i in range(3)]) for b in (old, edge)
    }
    legacy = FakeCollection(
        [{"_id": "old", "time": NOW - 15 * DAY}, {"_id": "young", "time": NOW - 13 * DAY}]
    )
    outbox = FakeCollection(
        [
            {"_id": "sent-long-ago", "created_at": NOW - 9 * DAY, "sent_at": NOW - 8 * DAY},
            {"_id": "sent-lately", "created_at": NOW - 9 * DAY, "sent_at": NOW - 6 * DAY},
            {"_id": "never-sent", "created_at": NOW - 300 * DAY, "sent_at": None},
        ]
    )
    db = FakeDb({INBOX: legacy, OUTBOX: outbox, **buckets, "positions": FakeCollection([])})
    for c in db.values():
        c.estimated_document_count = lambda c=c: _estimate(c)  # type: ignore[attr-defined]
        c.drop = lambda c=c, db=db: _drop(db, c)  # type: ignore[attr-defined]
    retention.export_zero("ret-unit-a")
    assert deleted("ret-unit-a", INBOX) == 0
    assert await retention.purge(db, "ret-unit-a", settings, NOW) == {INBOX: 4, OUTBOX: 1}
    assert sorted(db) == sorted([INBOX, OUTBOX, edge.name, "positions"])  # the legacy stays
    assert [d["_id"] for d in legacy.docs] == ["young"]
    assert [d["_id"] for d in outbox.docs] == ["sent-lately", "never-sent"]
    assert deleted("ret-unit-a", INBOX) == 4 and deleted("ret-unit-a", OUTBOX) == 1
    assert await retention.purge(db, "ret-unit-a", settings, NOW) == {INBOX: 0, OUTBOX: 0}

    keep_ids = ServiceSettings(inbox_ttl=False)
    legacy.docs.append({"_id": "old-again", "time": NOW - 400 * DAY})
    assert await retention.purge(db, "ret-unit-a", keep_ids, NOW + 30 * DAY) == {OUTBOX: 1}
    assert len(legacy.docs) == 2 and edge.name in db


async def _drop(db: FakeDb, coll: FakeCollection) -> None:
    for name, c in list(db.items()):
        if c is coll:
            del db[name]
            db.dropped.append(name)
