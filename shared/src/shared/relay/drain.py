"""One drain of the outbox: read the oldest unsent documents, publish their events in waves,
move aside what can never be published, and mark the documents sent.

A broker outage keeps an event and its aggregate's later events for the next attempt; any
other failure of one event is permanent for it, and it is moved aside (`shared.relay.aside`)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from aiormq.exceptions import AMQPError, ChannelInvalidStateError
from pymongo import ASCENDING

from shared.amqp_batch import PublishCancelled
from shared.errors import PublishNacked, Unpublishable, UnroutableError
from shared.metrics import OUTBOX_DELIVERY_SECONDS
from shared.relay import aside as A
from shared.relay.layout import OUTBOX, outgoing, readable_events
from shared.uow import Contract

# What a broker or channel outage looks like: the events are kept and published again later.
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


def is_outage(err: BaseException) -> bool:
    """An OUTAGE, or aio-pika's RuntimeError for a channel asked of a connection that is
    reconnecting (to another node of a cluster, say)."""
    return isinstance(err, OUTAGE) or (
        isinstance(err, RuntimeError) and "Connection was not opened" in str(err)
    )


Queue = list[tuple[Any, dict[str, Any]]]  # one key's events, in order, with their document ids


class Drain:
    """What one drain found: the fate of each document and event."""

    def __init__(self) -> None:
        self.counted = 0
        self.failed: set[Any] = set()  # documents kept for the next attempt
        self.unroutable: dict[Any, list[str]] = defaultdict(list)
        self.aside: dict[Any, list[tuple[dict[str, Any], str]]] = defaultdict(list)
        self.refused: dict[str, str] = {}  # event id -> how it breaks the contract
        self.unreadable: dict[Any, str] = {}  # document id -> why it cannot be read
        self.errors: list[BaseException] = []

    def fail(self, q: Queue, wave: int) -> None:
        """The key's events from `wave` on wait for the next attempt, with their documents."""
        self.failed.update(doc_id for doc_id, _ in q[wave:])
        q[wave + 1 :] = []


async def read_page(db: Any, page: int) -> list[dict[str, Any]]:
    """The oldest unsent documents, in commit order."""
    docs: list[dict[str, Any]] = (
        await db[OUTBOX].find({"sent_at": None}).sort([("seq", ASCENDING)]).limit(page).to_list()
    )
    return docs


class PageSender:
    """Publishes the events of a page of outbox documents for one service."""

    def __init__(self, service: str, publisher: Any, contract: Contract | None) -> None:
        self.service = service
        self.publisher = publisher
        self.contract = contract  # checks events not checked when emitted (older documents)

    async def send(self, docs: list[dict[str, Any]]) -> Drain:
        """Publish every event of `docs` not moved aside before; the outcome, to be marked."""
        d = Drain()
        by_key: dict[str, Queue] = defaultdict(list)
        for doc in docs:
            try:
                events = readable_events(doc)
            except Exception as x:  # cannot even be read: the whole document is moved aside
                d.unreadable[doc["_id"]] = f"outbox document cannot be read: {x!r}"[:1000]
                continue
            d.counted += len(events)
            contract = self.contract if not doc.get("validated") else None
            earlier = {p.get("id") for p in doc.get("poisoned") or () if isinstance(p, dict)}
            for e in events:
                if e["id"] in earlier:  # moved aside by an earlier attempt on this document
                    continue
                by_key[e["key"]].append((doc["_id"], e))
                if (
                    contract is not None
                    and (why := A.contract_problem(self.service, contract, e)) is not None
                ):
                    d.refused[e["id"]] = why
        await self._publish_waves(list(by_key.values()), d)
        if d.unreadable:
            await self._set_aside_documents(docs, d)
        return d

    async def _publish_waves(self, queues: list[Queue], d: Drain) -> None:
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
            aside: list[tuple[Queue, Any, dict[str, Any], BaseException]] = []
            for q, (doc_id, e), err in zip(live, items, outcomes, strict=True):
                if err is None:
                    continue
                if isinstance(err, UnroutableError):
                    # Nobody subscribed to this type: recorded on the document and in
                    # distsync_messages_published_total{outcome="unroutable"}; not retried.
                    d.unroutable[doc_id].append(e["id"])
                elif is_outage(err):
                    d.errors.append(err)
                    d.fail(q, wave)
                else:
                    aside.append((q, doc_id, e, err))
            if aside:
                answers = await A.dead_letter(
                    self.publisher,
                    self.service,
                    [A.Aside.of_event(e, err) for _, _, e, err in aside],
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
            answers = await self.publisher.publish_many([outgoing(items[i][1]) for i in send])
            for i, answer in zip(send, answers, strict=True):
                out[i] = answer
        return out

    async def _set_aside_documents(self, docs: list[dict[str, Any]], d: Drain) -> None:
        """Documents that cannot be read go to the DLQ whole."""
        bad = [doc for doc in docs if doc["_id"] in d.unreadable]
        answers = await A.dead_letter(
            self.publisher,
            self.service,
            [A.Aside.of_document(doc, d.unreadable[doc["_id"]]) for doc in bad],
        )
        for doc, answer in zip(bad, answers, strict=True):
            if answer is not None:
                d.errors.append(answer)
                d.failed.add(doc["_id"])


async def mark(db: Any, service: str, docs: list[dict[str, Any]], d: Drain) -> bool:
    """Mark done documents sent, and record what was moved aside at once, also on a document
    kept for the next attempt: that event is skipped then, not dead-lettered again. True when
    at least one document is done."""
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
            await db[OUTBOX].update_one({"_id": doc_id}, update)
        if aside:
            A.report(service, doc_id, d.aside[doc_id], d.unreadable.get(doc_id))
        if done and isinstance(doc.get("created_at"), datetime):
            OUTBOX_DELIVERY_SECONDS.labels(service).observe(
                max(0.0, (now - doc["created_at"]).total_seconds())
            )
    if plain:
        await db[OUTBOX].update_many({"_id": {"$in": plain}}, {"$set": {"sent_at": now}})
    return progress
