"""The transactional outbox and its relay.

Events are written in the handler's transaction. The relay, woken after each commit and by a
poll, publishes them with confirms and marks them sent. One replica at a time holds a lease, so
several replicas share the outbox without reordering one aggregate's events; a relay that dies
between publish and mark republishes, and the consumers' inbox makes that harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
from bson import Binary, CodecOptions
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.errors import UnroutableError
from shared.logging import get_logger
from shared.messaging import Outgoing
from shared.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_DELIVERY_SECONDS,
    OUTBOX_LEADER,
    OUTBOX_OLDEST_SECONDS,
)
from shared.sessions import pid_alive
from shared.uow import PendingEvent

OUTBOX = "outbox"
LEASE = "outbox_lease"
log = get_logger("shared.outbox")
_LIVE_OWNERS: set[str] = set()  # relays running in this process (tests run several)


def outbox_doc(events: list[PendingEvent], at: datetime) -> dict[str, Any]:
    """One outbox document per committed batch: one write instead of one per event.

    The events travel as one BSON blob (`payload`), which the database stores and copies as
    opaque bytes. As an array of sub-documents they made every relay read and every mark as
    sent decode, copy and re-encode about a hundred of them: on the embedded test server that
    was 2-3 ms of its CPU per batch, about 7 % of all it did per event. `outbox_events` reads
    both layouts (documents written before the change carry an `events` array)."""
    evs = []
    for pe in events:
        ev = pe.event
        evs.append(
            {
                "id": ev.id,
                "key": pe.key,
                "exchange": pe.exchange,
                "routing_key": ev.type,
                "type": ev.type,
                "correlationid": ev.correlationid,
                "causationid": ev.causationid,
                "body": ev.to_json_bytes(),
                "event_time": ev.time,
            }
        )
    return {
        "_id": events[0].event.id,
        "seq": time.time_ns(),
        "created_at": at,
        "sent_at": None,
        "n": len(evs),
        "correlationids": sorted({e["correlationid"] for e in evs if e["correlationid"]}),
        "payload": Binary(bson.encode({"events": evs})),
    }


_PAYLOAD_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)


def outbox_events(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of one outbox document, in emission order, whichever layout it has."""
    if "payload" in doc:
        events: list[dict[str, Any]] = bson.decode(doc["payload"], _PAYLOAD_OPTIONS)["events"]
        return events
    return list(doc.get("events") or [])


async def setup(db: Any, retention_s: int = 7 * 86400, *, index_correlation: bool = False) -> None:
    """The relay's index and the retention TTL. The `correlationids` index, which only
    `distsync trace` reads, is opt-in (DISTSYNC_OUTBOX_CORRELATION_INDEX=true): a batch carries
    one entry per correlation id, written on insert and again when the relay marks it sent, which
    on the embedded test server doubled the cost of both."""
    await db[OUTBOX].create_index([("sent_at", ASCENDING), ("seq", ASCENDING)])
    await db[OUTBOX].create_index("sent_at", expireAfterSeconds=retention_s, name="sent_ttl")
    if index_correlation:
        await db[OUTBOX].create_index("correlationids")


class OutboxRelay:
    """Publishes unsent outbox events in order per aggregate key; one leaseholder at a time."""

    def __init__(
        self,
        service: str,
        db: Any,
        publisher: Any,
        *,
        poll_s: float = 0.25,
        batch: int = 500,
        lease_s: float = 10.0,
    ) -> None:
        self.service = service
        self.db = db
        self.publisher = publisher
        self.poll_s = poll_s
        self.batch = batch
        self.lease_s = lease_s
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        _LIVE_OWNERS.add(self.owner)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._lease_until = 0.0
        self._backlog_at = 0.0
        self._more = False  # the last drain read a full page: more may be waiting
        self.crash_after_publish: Any = None  # test hook: raise here to mimic a crash

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox")

    async def stop(self, flush: bool = True) -> None:
        self._stopping = True
        self._wake.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if flush:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.drain_once(), timeout=5)
        await self._release()
        _LIVE_OWNERS.discard(self.owner)

    async def _run(self) -> None:
        backoff = self.poll_s
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            try:
                await self.drain_once()
                backoff = self.poll_s
                if self._more:  # else a commit since the read has set the wake already
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # broker or database down: keep the events, retry later
                log.warning("outbox_relay_failed", error=repr(e))
                backoff = min(max(backoff * 2, 0.5), 5.0)

    async def _hold_lease(self) -> bool:
        now_mono = time.monotonic()
        if now_mono < self._lease_until - self.lease_s / 2:
            return True
        now = datetime.now(UTC)
        try:
            doc = await self.db[LEASE].find_one_and_update(
                {"_id": "relay", "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                {
                    "$set": {
                        "owner": self.owner,
                        "host": self.host,
                        "pid": os.getpid(),
                        "expires_at": now + timedelta(seconds=self.lease_s),
                    }
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            doc = None
        held = bool(doc and doc.get("owner") == self.owner)
        if not held:
            held = await self._take_from_dead(now)
        self._lease_until = now_mono + self.lease_s if held else 0.0
        OUTBOX_LEADER.labels(self.service).set(1 if held else 0)
        return held

    async def _take_from_dead(self, now: datetime) -> bool:
        """Take the lease at once, not after it expires, when its holder ran on this host and
        is gone: a process restarted after a crash (its pid is dead), or a container restarted
        in place (same host, same pid, but no relay of this process holds it). Without this,
        a restarted service's events waited up to `lease_s` in its outbox."""
        cur = await self.db[LEASE].find_one({"_id": "relay"})
        if not cur or cur.get("host") != self.host or cur.get("owner") in _LIVE_OWNERS:
            return False
        pid = int(cur.get("pid") or 0)
        if pid != os.getpid() and pid_alive(pid):
            return False
        doc = await self.db[LEASE].find_one_and_update(
            {"_id": "relay", "owner": cur["owner"]},
            {
                "$set": {
                    "owner": self.owner,
                    "host": self.host,
                    "pid": os.getpid(),
                    "expires_at": now + timedelta(seconds=self.lease_s),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if not doc or doc.get("owner") != self.owner:
            return False
        log.warning("outbox_lease_taken_over", previous=cur["owner"], reason="holder gone")
        return True

    async def _release(self) -> None:
        with contextlib.suppress(Exception):
            await self.db[LEASE].update_one(
                {"_id": "relay", "owner": self.owner},
                {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
            )
        OUTBOX_LEADER.labels(self.service).set(0)

    async def drain_once(self) -> int:
        """Publish the oldest unsent batches; return how many events were handled."""
        self._more = False
        if not await self._hold_lease():
            return 0
        page = max(1, self.batch // 50)
        docs = (
            await self.db[OUTBOX]
            .find({"sent_at": None})
            .sort([("seq", ASCENDING)])
            .limit(page)
            .to_list()
        )
        self._more = len(docs) >= page
        if not docs:
            OUTBOX_BACKLOG.labels(self.service).set(0)
            OUTBOX_OLDEST_SECONDS.labels(self.service).set(0)
            self._backlog_at = time.monotonic()
            return 0
        by_key: dict[str, list[tuple[Any, dict[str, Any]]]] = defaultdict(list)
        for d in docs:
            for e in outbox_events(d):
                by_key[e["key"]].append((d["_id"], e))
        failed_docs: set[Any] = set()
        unroutable: dict[Any, list[str]] = defaultdict(list)
        errors: list[BaseException] = []
        # In waves: the i-th event of every key together, in one write, confirmed before the
        # (i+1)-th. One aggregate's events go out in order, and after a failed publish none of
        # that key's later events go out before it (they are all sent again next time).
        queues = list(by_key.values())
        wave = 0
        while True:
            live = []
            for q in queues:
                if len(q) <= wave:
                    continue
                if q[wave][0] in failed_docs:  # its document is sent again: so is the rest
                    failed_docs.update(d for d, _ in q[wave:])
                    q[wave + 1 :] = []
                    continue
                live.append(q)
            if not live:
                break
            items = [q[wave] for q in live]
            outcomes = await self.publisher.publish_many([_outgoing(e) for _, e in items])
            for q, (doc_id, e), err in zip(live, items, outcomes, strict=True):
                if err is None:
                    continue
                if isinstance(err, UnroutableError):
                    # Nobody subscribed to this type: recorded on the document and in
                    # distsync_messages_published_total{outcome="unroutable"}; not retried.
                    unroutable[doc_id].append(e["id"])
                else:
                    errors.append(err)
                    failed_docs.update(d for d, _ in q[wave:])
                    q[wave + 1 :] = []
            wave += 1
        if self.crash_after_publish is not None:
            await self.crash_after_publish()
        now = datetime.now(UTC)
        done = [d for d in docs if d["_id"] not in failed_docs]
        plain = [d["_id"] for d in done if not unroutable.get(d["_id"])]
        if plain:
            await self.db[OUTBOX].update_many({"_id": {"$in": plain}}, {"$set": {"sent_at": now}})
        for d in done:
            if unroutable.get(d["_id"]):
                await self.db[OUTBOX].update_one(
                    {"_id": d["_id"]},
                    {"$set": {"sent_at": now, "unroutable": unroutable[d["_id"]]}},
                )
            OUTBOX_DELIVERY_SECONDS.labels(self.service).observe(
                max(0.0, (now - d["created_at"]).total_seconds())
            )
        if time.monotonic() - self._backlog_at > 2.0:  # a gauge, not worth a query per batch
            self._backlog_at = time.monotonic()
            await self._update_backlog()
        if errors:
            raise errors[0]
        return sum(int(d.get("n") or len(outbox_events(d))) for d in docs)

    async def _update_backlog(self) -> None:
        try:
            pipeline = [
                {"$match": {"sent_at": None}},
                {"$group": {"_id": None, "n": {"$sum": "$n"}}},
            ]
            rows = await (await self.db[OUTBOX].aggregate(pipeline)).to_list()
            n = int(rows[0]["n"]) if rows else 0
            OUTBOX_BACKLOG.labels(self.service).set(n)
            if n:
                oldest = await self.db[OUTBOX].find_one(
                    {"sent_at": None}, sort=[("seq", ASCENDING)]
                )
                if oldest:
                    age = (datetime.now(UTC) - oldest["created_at"]).total_seconds()
                    OUTBOX_OLDEST_SECONDS.labels(self.service).set(max(0.0, age))
            else:
                OUTBOX_OLDEST_SECONDS.labels(self.service).set(0)
        except PyMongoError:
            pass


def _outgoing(e: dict[str, Any]) -> Outgoing:
    return Outgoing(
        e["exchange"],
        e["routing_key"],
        bytes(e["body"]),
        {
            "message_id": e["id"],
            "type": e["type"],
            "correlation_id": e.get("correlationid"),
            "timestamp": e.get("event_time"),
            "content_type": "application/cloudevents+json",
            "delivery_mode": 2,
        },
        e["type"],
    )
