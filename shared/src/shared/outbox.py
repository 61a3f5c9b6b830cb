"""The transactional outbox and its relay.

Events are written in the handler's transaction. The relay, woken after each commit and by a
poll, publishes them with confirms and marks them sent. One replica at a time holds a lease, so
several replicas share the outbox without reordering one aggregate's events; a relay that dies
between publish and mark republishes, and the consumers' inbox makes that harmless.

No event blocks the others. One the broker cannot take (Unpublishable), one that breaks the
service's published contract, or one that fails with any error other than a broker outage is
moved aside: dead-lettered to `<service>.dlx` with failure-kind `unpublishable` and its reason,
recorded on its document (`poisoned`), counted and logged; the aggregate's later events go on.
A broker outage keeps everything for the next attempt.
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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
from aiormq.exceptions import AMQPError, ChannelInvalidStateError
from bson import Binary, CodecOptions, json_util
from pydantic import ValidationError
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared import failures as F
from shared.amqp_batch import PublishCancelled, shortstr_fits
from shared.envelope import CONTENT_TYPE, CloudEvent, short_errors
from shared.errors import PublishNacked, Unpublishable, UnroutableError
from shared.logging import get_logger
from shared.messaging import Outgoing
from shared.metrics import (
    DLQ_PUBLISHED,
    OUTBOX_BACKLOG,
    OUTBOX_DELIVERY_SECONDS,
    OUTBOX_LEADER,
    OUTBOX_MOVED_ASIDE,
    OUTBOX_OLDEST_SECONDS,
)
from shared.sessions import pid_alive
from shared.topology import dlx
from shared.uow import Contract, PendingEvent

OUTBOX = "outbox"
LEASE = "outbox_lease"
STALL_S = 60.0  # events waiting this long with none published: /readyz reports the outbox
GAUGE_S = 2.0  # how often the leaseholder refreshes the backlog gauges
log = get_logger("shared.outbox")
_LIVE_OWNERS: set[str] = set()  # relays running in this process (tests run several)
# What a broker or channel outage looks like: the events are kept and published again later.
# Any other failure of one event is permanent for it, and it is moved aside.
OUTAGE = (
    PublishNacked,
    PublishCancelled,
    AMQPError,
    ChannelInvalidStateError,
    ConnectionError,
    OSError,
    TimeoutError,
    asyncio.CancelledError,
)


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
                "body": pe.body if pe.body is not None else ev.to_json_bytes(),
                "event_time": ev.time,
            }
        )
    doc: dict[str, Any] = {
        "_id": events[0].event.id,
        "seq": time.time_ns(),
        "created_at": at,
        "sent_at": None,
        "n": len(evs),
        "correlationids": sorted({e["correlationid"] for e in evs if e["correlationid"]}),
        "payload": Binary(bson.encode({"events": evs})),
    }
    if all(pe.validated for pe in events):
        doc["validated"] = True  # checked against the contract when emitted: not again
    return doc


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
        contract: Contract | None = None,
        stall_s: float = STALL_S,
    ) -> None:
        self.service = service
        self.db = db
        self.publisher = publisher
        self.poll_s = poll_s
        self.batch = batch
        self.lease_s = lease_s
        self.contract = contract  # checks events not checked when emitted (older documents)
        self.stall_s = stall_s
        OUTBOX_MOVED_ASIDE.labels(service)  # exported at 0 from the start, so increase() sees 1
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        _LIVE_OWNERS.add(self.owner)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._lease_until = 0.0
        self._more = False  # the last drain read a full page: more may be waiting
        self._waiting_since: float | None = None  # events wait, none published since then
        self._draining_since: float | None = None
        self._stall_logged = 0.0
        self.crash_after_publish: Any = None  # test hook: raise here to mimic a crash

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox")
        self._task.add_done_callback(self._ended)
        self._watcher = asyncio.create_task(self._watch(), name=f"{self.service}-outbox-watch")

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not self._stopping and not task.cancelled():
            log.error("outbox_relay_ended", error=repr(task.exception()))

    async def stop(self, flush: bool = True) -> None:
        self._stopping = True
        self._wake.set()
        for task in (self._task, self._watcher):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if flush:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.drain_once(), timeout=5)
        await self._release()
        _LIVE_OWNERS.discard(self.owner)

    def stalled_s(self) -> float:
        """How long events have waited while this relay, holding the lease, published none."""
        since = self._waiting_since
        return 0.0 if since is None else time.monotonic() - since

    def health(self) -> str:
        """`ok`, or why the outbox is not (for /readyz): events wait, none published for
        `stall_s` seconds (broker refusing or unreachable, a drain that hangs)."""
        stalled = self.stalled_s()
        if stalled < self.stall_s:
            return "ok"
        return f"stalled: events have waited {stalled:.0f} s and none was published"

    async def _run(self) -> None:
        backoff = self.poll_s
        while not self._stopping:
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=backoff)
                self._wake.clear()
                self._draining_since = time.monotonic()
                await self.drain_once()
                backoff = self.poll_s
                if self._more:  # else a commit since the read has set the wake already
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep the events, retry later; never end the task
                backoff = min(max(backoff * 2, 0.5), 5.0)
                if isinstance(e, (*OUTAGE, PyMongoError)):  # broker or database down
                    log.warning("outbox_relay_failed", error=repr(e)[:500], retry_in_s=backoff)
                else:
                    log.error(
                        "outbox_relay_failed", error=repr(e)[:500], retry_in_s=backoff, exc_info=e
                    )
            finally:
                self._draining_since = None

    async def _watch(self) -> None:
        """Refresh the backlog gauges while this relay leads, and say when it is stalled, also
        while a drain keeps failing or hangs (its lease then runs out; it is still counted)."""
        while not self._stopping:
            await asyncio.sleep(GAUGE_S)
            try:
                now = time.monotonic()
                if now < self._lease_until or self._draining_since is not None:
                    await self._update_backlog()
                stalled = self.stalled_s()
                if stalled >= self.stall_s and now - self._stall_logged >= 60.0:
                    self._stall_logged = now
                    log.error(
                        "outbox_relay_stalled",
                        waiting_s=round(stalled),
                        draining_s=round(now - self._draining_since)
                        if self._draining_since is not None
                        else None,
                    )
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("outbox_gauges_failed", error=repr(e)[:300])

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
            self._waiting_since = None  # another replica's job
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
            self._waiting_since = None
            return 0
        if self._waiting_since is None:
            self._waiting_since = time.monotonic()
        d = _Drain()
        by_key: dict[str, list[tuple[Any, dict[str, Any]]]] = defaultdict(list)
        for doc in docs:
            try:
                events = readable_events(doc)
            except Exception as x:  # cannot even be read: the whole document is moved aside
                d.unreadable[doc["_id"]] = f"outbox document cannot be read: {x!r}"[:1000]
                continue
            d.counted += len(events)
            check = self.contract is not None and not doc.get("validated")
            earlier = {p.get("id") for p in doc.get("poisoned") or () if isinstance(p, dict)}
            for e in events:
                if e["id"] in earlier:  # moved aside by an earlier attempt on this document
                    continue
                by_key[e["key"]].append((doc["_id"], e))
                if check and (why := self._checked(e)) is not None:
                    d.refused[e["id"]] = why
        await self._publish_waves(list(by_key.values()), d)
        if d.unreadable:
            await self._set_aside_documents(docs, d)
        if self.crash_after_publish is not None:
            await self.crash_after_publish()
        await self._mark(docs, d)
        if d.errors:
            raise d.errors[0]
        return d.counted

    async def _publish_waves(
        self, queues: list[list[tuple[Any, dict[str, Any]]]], d: _Drain
    ) -> None:
        """In waves: the i-th event of every key together, in one write, confirmed before the
        (i+1)-th. One aggregate's events go out in order; after a publish that failed for an
        outage none of that key's later events go out before it (they are all sent again next
        time). An event moved aside does not hold its key's later events back: it will never
        be published, and waiting for it would stop the aggregate for good."""
        wave = 0
        while True:
            live = []
            for q in queues:
                if len(q) <= wave:
                    continue
                if q[wave][0] in d.failed:  # its document is sent again: so is the rest
                    d.fail(q, wave)
                    continue
                live.append(q)
            if not live:
                break
            items = [q[wave] for q in live]
            outcomes = await self._publish(items, d.refused)
            aside: list[tuple[list[Any], Any, dict[str, Any], BaseException]] = []
            for q, (doc_id, e), err in zip(live, items, outcomes, strict=True):
                if err is None:
                    continue
                if isinstance(err, UnroutableError):
                    # Nobody subscribed to this type: recorded on the document and in
                    # distsync_messages_published_total{outcome="unroutable"}; not retried.
                    d.unroutable[doc_id].append(e["id"])
                elif isinstance(err, OUTAGE):
                    d.errors.append(err)
                    d.fail(q, wave)
                else:
                    aside.append((q, doc_id, e, err))
            if aside:
                answers = await self._dead_letter(
                    [_Aside.of_event(e, err) for _, _, e, err in aside]
                )
                for (q, doc_id, e, err), dl_err in zip(aside, answers, strict=True):
                    if dl_err is None:
                        d.aside[doc_id].append((e, str(err)[:1000]))
                    else:  # not in the DLQ yet: kept, and tried again next time
                        d.errors.append(dl_err)
                        d.fail(q, wave)
            wave += 1

    async def _publish(
        self, items: list[tuple[Any, dict[str, Any]]], refused: dict[str, str]
    ) -> list[BaseException | None]:
        """Publish one wave; an event that breaks the contract is not sent, it fails at once."""
        out: list[BaseException | None] = [None] * len(items)
        send: list[int] = []
        for i, (_, e) in enumerate(items):
            why = refused.get(e["id"])
            if why is None:
                send.append(i)
            else:
                out[i] = Unpublishable(why)
        if send:
            answers = await self.publisher.publish_many([_outgoing(items[i][1]) for i in send])
            for i, answer in zip(send, answers, strict=True):
                out[i] = answer
        return out

    def _checked(self, e: dict[str, Any]) -> str | None:
        try:
            return self._contract_problem(e)
        except Exception as x:  # a validator that fails otherwise: still this event's problem
            return f"the event could not be checked against the contract: {x!r}"

    def _contract_problem(self, e: dict[str, Any]) -> str | None:
        """Why an event written without a check (an older document) breaks the contract of the
        service: its envelope, its type, or its data. None when it keeps it."""
        assert self.contract is not None
        try:
            ev = CloudEvent.model_validate_json(bytes(e["body"]))
        except ValidationError as x:
            return f"the event breaks the contract: its envelope: {short_errors(x)}"
        if ev.id != e["id"] or ev.type != e["type"]:
            return "the event breaks the contract: its body's id or type differs from the outbox's"
        model = self.contract.get(ev.type)
        if model is None:
            return f"the event breaks the contract: {self.service} does not publish {ev.type!r}"
        try:
            model.model_validate(ev.data)
        except ValidationError as x:
            return f"the event breaks the contract: data of {ev.type}: {short_errors(x)}"
        return None

    async def _dead_letter(self, entries: list[_Aside]) -> list[BaseException | None]:
        """Copies of what is moved aside, to `<service>.dlx`; per entry None once the DLQ has
        it. A copy the broker cannot take either counts as done: its document records it, and
        it is logged."""
        copies = [a.copy(self.service) for a in entries]
        answers = await self.publisher.publish_many(copies)
        out: list[BaseException | None] = []
        for a, answer in zip(entries, answers, strict=True):
            if isinstance(answer, Unpublishable):
                log.error(
                    "outbox_dead_letter_impossible",
                    event_id=a.id,
                    reason=str(a.error)[:300],
                    error=str(answer)[:300],
                )
                answer = None
            out.append(answer)
        return out

    async def _set_aside_documents(self, docs: list[dict[str, Any]], d: _Drain) -> None:
        """Documents that cannot be read go to the DLQ whole, as MongoDB extended JSON."""
        bad = [doc for doc in docs if doc["_id"] in d.unreadable]
        answers = await self._dead_letter(
            [
                _Aside(
                    json_util.dumps(doc).encode(),
                    Unpublishable(d.unreadable[doc["_id"]]),
                    "",
                    "",
                    None,
                    None,
                    str(doc["_id"]),
                )
                for doc in bad
            ]
        )
        for doc, answer in zip(bad, answers, strict=True):
            if answer is not None:
                d.errors.append(answer)
                d.failed.add(doc["_id"])

    async def _mark(self, docs: list[dict[str, Any]], d: _Drain) -> None:
        """Mark done documents sent, and record what was moved aside at once, also on a
        document kept for the next attempt: that event is skipped then, not dead-lettered again."""
        now = datetime.now(UTC)
        plain: list[Any] = []
        progress = False
        for doc in docs:
            doc_id = doc["_id"]
            done = doc_id not in d.failed
            progress = progress or done
            aside = [{"id": e["id"], "reason": why, "at": now} for e, why in d.aside[doc_id]]
            if doc_id in d.unreadable and done:
                aside.append({"id": None, "reason": d.unreadable[doc_id], "at": now})
            update: dict[str, Any] = {}
            if done:
                update["$set"] = {"sent_at": now}
                if d.unroutable[doc_id]:
                    update["$set"]["unroutable"] = d.unroutable[doc_id]
            if aside:
                update["$push"] = {"poisoned": {"$each": aside}}
            if update.keys() == {"$set"} and len(update["$set"]) == 1:
                plain.append(doc_id)
            elif update:
                await self.db[OUTBOX].update_one({"_id": doc_id}, update)
            if aside:
                self._moved_aside(doc_id, d.aside[doc_id], d.unreadable.get(doc_id))
            if done and isinstance(doc.get("created_at"), datetime):
                OUTBOX_DELIVERY_SECONDS.labels(self.service).observe(
                    max(0.0, (now - doc["created_at"]).total_seconds())
                )
        if plain:
            await self.db[OUTBOX].update_many({"_id": {"$in": plain}}, {"$set": {"sent_at": now}})
        if progress:
            self._waiting_since = None

    def _moved_aside(
        self, doc_id: Any, events: list[tuple[dict[str, Any], str]], unreadable: str | None
    ) -> None:
        for e, why in events:
            OUTBOX_MOVED_ASIDE.labels(self.service).inc()
            DLQ_PUBLISHED.labels(self.service, e["type"], Unpublishable.kind).inc()
            log.error(
                "outbox_event_moved_aside",
                event_id=e["id"],
                type=e["type"],
                key=e["key"],
                correlation_id=e.get("correlationid"),
                outbox_id=doc_id,
                reason=why,
            )
        if unreadable is not None:
            OUTBOX_MOVED_ASIDE.labels(self.service).inc()
            DLQ_PUBLISHED.labels(self.service, "unknown", Unpublishable.kind).inc()
            log.error("outbox_document_moved_aside", outbox_id=doc_id, reason=unreadable)

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
                if oldest and isinstance(oldest.get("created_at"), datetime):
                    age = (datetime.now(UTC) - oldest["created_at"]).total_seconds()
                    OUTBOX_OLDEST_SECONDS.labels(self.service).set(max(0.0, age))
            else:
                OUTBOX_OLDEST_SECONDS.labels(self.service).set(0)
        except PyMongoError:
            pass


@dataclass
class _Aside:
    """One thing moved aside: what goes to the DLQ, why, and where it was going."""

    body: bytes
    error: BaseException
    exchange: str
    routing_key: str
    type: str | None
    event: dict[str, Any] | None  # the outbox event (None: a whole unreadable document)
    id: str  # the event's id, or the document's

    @classmethod
    def of_event(cls, e: dict[str, Any], error: BaseException) -> _Aside:
        return cls(bytes(e["body"]), error, e["exchange"], e["routing_key"], e["type"], e, e["id"])

    def copy(self, service: str) -> Outgoing:
        """The dead-letter copy, with failure headers and only properties AMQP can carry (an
        id that does not fit is left out: the body has it)."""
        headers = F.failure_headers(
            previous={},
            exc=self.error,
            kind=Unpublishable.kind,
            service=service,
            queue=OUTBOX,
            exchange=self.exchange,
            routing_key=self.routing_key,
            event_type=self.type,
        )
        e = self.event or {}
        props: dict[str, Any] = {
            "type": self.type,
            "correlation_id": e.get("correlationid"),
            "timestamp": e.get("event_time"),
            "content_type": CONTENT_TYPE if self.event else "application/json",
            "delivery_mode": 2,
            "headers": headers,
        }
        if shortstr_fits(self.id):
            props["message_id"] = self.id
        key = self.routing_key if shortstr_fits(self.routing_key) else ""
        return Outgoing(dlx(service), key, self.body, props, self.type or "unknown")


class _Drain:
    """What one drain found: the fate of each document and event."""

    def __init__(self) -> None:
        self.counted = 0
        self.failed: set[Any] = set()  # documents kept for the next attempt
        self.unroutable: dict[Any, list[str]] = defaultdict(list)
        self.aside: dict[Any, list[tuple[dict[str, Any], str]]] = defaultdict(list)
        self.refused: dict[str, str] = {}  # event id -> how it breaks the contract
        self.unreadable: dict[Any, str] = {}  # document id -> why it cannot be read
        self.errors: list[BaseException] = []

    def fail(self, q: list[tuple[Any, dict[str, Any]]], wave: int) -> None:
        """The key's events from `wave` on wait for the next attempt, with their documents."""
        self.failed.update(doc_id for doc_id, _ in q[wave:])
        q[wave + 1 :] = []


_FIELDS = ("id", "key", "exchange", "routing_key", "type")


def readable_events(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The events of a document, or ValueError when one lacks what publishing needs."""
    events = outbox_events(doc)
    for e in events:
        for name in _FIELDS:
            if not isinstance(e.get(name), str):
                raise ValueError(f"an event's {name!r} is missing or not text")
        if not isinstance(e.get("body"), bytes | bytearray):
            raise ValueError("an event's body is missing or not bytes")
    return events


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
            "content_type": CONTENT_TYPE,
            "delivery_mode": 2,
        },
        e["type"],
    )
