"""The relay publishes in waves (one write per wave); one aggregate's events still go out in
order, and after a failed publish none of that aggregate's later events go out before it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.envelope import build
from shared.errors import PublishNacked
from shared.messaging import Outgoing
from shared.outbox import OUTBOX, OutboxRelay, outbox_doc, outbox_events
from shared.uow import PendingEvent

pytestmark = pytest.mark.integration


class RecordingPublisher:
    """Records what went out, in order; refuses one message id once."""

    def __init__(self, refuse_once: str | None = None) -> None:
        self.sent: list[str] = []
        self.writes = 0
        self.refuse = refuse_once

    async def publish_many(self, items: list[Outgoing]) -> list[BaseException | None]:
        self.writes += 1
        out: list[BaseException | None] = []
        for it in items:
            mid = it.properties["message_id"]
            if mid == self.refuse:
                self.refuse = None
                out.append(PublishNacked("refused once"))
            else:
                self.sent.append(mid)
                out.append(None)
        return out


def events(key: str, n: int) -> list[PendingEvent]:
    return [
        PendingEvent("svc.events", key, build("svc.changed", {"k": key, "i": i}, source="svc"))
        for i in range(n)
    ]


async def store(db: Any, *batches: list[PendingEvent]) -> None:
    for b in batches:
        await db[OUTBOX].insert_one(outbox_doc(b, datetime.now(UTC)))


async def test_one_aggregates_events_go_out_in_order_across_batches(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    a, b = events("A", 3), events("B", 2)
    await store(db, [a[0], b[0]], [a[1]], [a[2], b[1]])
    pub = RecordingPublisher()
    relay = OutboxRelay("svc", db, pub)
    assert await relay.drain_once() == 5
    order = pub.sent
    assert [order.index(e.event.id) for e in a] == sorted(order.index(e.event.id) for e in a)
    assert [order.index(e.event.id) for e in b] == sorted(order.index(e.event.id) for e in b)
    assert pub.writes == 3  # three waves: A has three events, one per wave
    assert await db[OUTBOX].count_documents({"sent_at": None}) == 0


async def test_after_a_refused_publish_that_aggregates_later_events_wait(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    a, b = events("A", 3), events("B", 1)
    await store(db, [a[0]], [a[1], b[0]], [a[2]])
    pub = RecordingPublisher(refuse_once=a[1].event.id)
    relay = OutboxRelay("svc", db, pub)
    with pytest.raises(PublishNacked):
        await relay.drain_once()
    assert a[2].event.id not in pub.sent  # never ahead of the refused one
    assert pub.sent[:1] == [a[0].event.id]
    unsent = await db[OUTBOX].count_documents({"sent_at": None})
    assert unsent == 2  # the refused event's batch and the one after it
    await relay.drain_once()
    tail = [x for x in pub.sent if x in {a[1].event.id, a[2].event.id}]
    assert tail[-2:] == [a[1].event.id, a[2].event.id]
    assert await db[OUTBOX].count_documents({"sent_at": None}) == 0


async def test_documents_written_before_the_payload_blob_are_still_published_in_order(
    mongo: Any, db_name: str
) -> None:
    """An outbox written by the previous release carries its events as an `events` array: the
    relay publishes them, in order with newer batches of the same aggregate, and trace reads
    both layouts."""
    db = mongo[db_name]
    a = events("A", 2)
    legacy = outbox_doc([a[0]], datetime.now(UTC))
    legacy["events"] = outbox_events(legacy)
    del legacy["payload"]
    await db[OUTBOX].insert_one(legacy)
    await store(db, [a[1]])
    stored = await db[OUTBOX].find().sort("seq", 1).to_list()
    assert [e["id"] for d in stored for e in outbox_events(d)] == [e.event.id for e in a]
    assert isinstance(outbox_events(stored[1])[0]["event_time"], datetime)
    assert outbox_events(stored[1])[0]["event_time"].tzinfo is not None
    pub = RecordingPublisher()
    assert await OutboxRelay("svc", db, pub).drain_once() == 2
    assert pub.sent == [e.event.id for e in a]
    assert await db[OUTBOX].count_documents({"sent_at": None}) == 0
