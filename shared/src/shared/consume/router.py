"""The partition router: one replica at a time moves the service queue into the partitions.

Systems publish to the service's queue (`<service>.main`) as the contract says; the router
reads it in delivery order, admits each message (an invalid one goes to the DLQ at once, as
the consumer would send it), and republishes it, with a confirm, to the partition its aggregate
hashes to (`shared.partitioning`); only then is it acked. The replica holding the exclusive
queue `router_lock(service)` routes; the others try again every second. The lock, the consumer
of the service queue and the confirm channel share one plain connection, so when it dies the
broker returns the unacked messages to the head of the queue and frees the lock together, and
the next router starts where this one stopped, in order."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage

from shared import failures as F
from shared.acks import Settler
from shared.consume.admission import Admission, arrival, peek_type
from shared.consume.routing import FailureRouter
from shared.envelope import EnvelopeError
from shared.errors import PermanentError, Unpublishable
from shared.logging import get_logger
from shared.messaging import Outgoing, Publisher
from shared.metrics import ROUTED, ROUTER_ACTIVE
from shared.partitioning import partition_of
from shared.retention import dedup_horizon
from shared.service import ServiceDefinition
from shared.topology import main_queue, partition_queue, partitions_exchange, router_lock

log = get_logger("shared.router")

LAYOUT = "partition_layout"  # the service's record of the partition count it routes with
_DROP_HEADERS = ("x-delivery-count",)  # the partition queue counts its own deliveries
_KEEP_PROPS = (
    "content_type",
    "content_encoding",
    "priority",
    "correlation_id",
    "reply_to",
    "message_id",
    "timestamp",
    "type",
    "app_id",
)  # user_id is left out: the broker takes it only when it names the publishing user


class PartitionRouter:
    """Holds the router lock when it can, and routes while it holds it."""

    def __init__(
        self,
        svc: ServiceDefinition,
        settings: Any,
        db: Any,
        dead_letters: Publisher,
        connect: Any,
    ) -> None:
        self.svc = svc
        self.settings = settings
        self.db = db
        self.count = int(settings.partitions)
        self._dead_letters = dead_letters
        self._connect = connect  # () -> a plain (not robust) connection
        self._admission = Admission(svc, settings.event_time_window(), dedup_horizon(settings))
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.active = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.svc.name}-router")

    async def stop(self) -> None:
        """Stop routing: what was read and not yet republished goes back to the queue's head
        when the connection closes, and the lock is free for the next router."""
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=self.settings.shutdown_grace_s)
            if not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task

    async def _run(self) -> None:
        name = self.svc.name
        while not self._stop.is_set():
            conn: AbstractConnection | None = None
            try:
                conn = await self._connect()
                if await self._take_lock(conn):
                    self.active = True
                    ROUTER_ACTIVE.labels(name).set(1)
                    log.info("partition_router_active", service=name, partitions=self.count)
                    await self._route(conn)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("partition_router_interrupted", service=name, error=repr(e)[:300])
            finally:
                if self.active:
                    log.info("partition_router_released", service=name)
                self.active = False
                ROUTER_ACTIVE.labels(name).set(0)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.5 + random.random())

    async def _take_lock(self, conn: AbstractConnection) -> bool:
        ch = await conn.channel()
        try:
            await ch.declare_queue(router_lock(self.svc.name), exclusive=True)
        except aiormq.exceptions.ChannelLockedResource:
            return False
        return True

    async def _route(self, conn: AbstractConnection) -> None:
        """Move the service queue into the partitions until stopped or disconnected."""
        await self._layout_gate(conn)
        publisher = Publisher(conn, self.svc.name)  # type: ignore[arg-type]
        acks = Settler()
        failures = FailureRouter(
            self.svc.name, main_queue(self.svc.name), self.settings, self._dead_letters, acks
        )
        size = self.settings.router_batch
        ch = await conn.channel()
        await ch.set_qos(prefetch_count=size * 2)
        inbox: list[AbstractIncomingMessage] = []
        arrived = asyncio.Event()

        async def on_message(m: AbstractIncomingMessage) -> None:
            acks.received(m)
            inbox.append(m)
            arrived.set()

        queue = await ch.get_queue(main_queue(self.svc.name), ensure=False)
        await queue.consume(on_message)
        closed = asyncio.Event()
        conn.close_callbacks.add(lambda *_: closed.set())
        while not self._stop.is_set() and not closed.is_set():
            if not inbox:
                arrived.clear()
                waiters = [asyncio.ensure_future(e.wait()) for e in (arrived, self._stop, closed)]
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
                continue
            batch, inbox[:] = inbox[:size], inbox[size:]
            await self._move(batch, publisher, acks, failures)

    async def _move(
        self,
        batch: list[AbstractIncomingMessage],
        publisher: Publisher,
        acks: Settler,
        failures: FailureRouter,
    ) -> None:
        """Republish a batch to its partitions with confirms, then ack what was confirmed."""
        items: list[Outgoing] = []
        sent: list[AbstractIncomingMessage] = []
        for m in batch:
            try:
                p = self._admission.parse(m)
            except EnvelopeError as e:
                await failures.dead_letter(m, e, e.kind, None)
                continue
            except PermanentError as e:
                await failures.dead_letter(m, e, e.kind, peek_type(m))
                continue
            # the aggregate: a route that names no documents has one key for all its messages
            # (ANY_KEY), so they share one partition and keep their order, as on one replica
            key = p.keys[0]
            items.append(self._outgoing(m, partition_of(key, self.count), p.envelope.type))
            sent.append(m)
        answers = await publisher.publish_many(items)
        confirmed: list[AbstractIncomingMessage] = []
        for m, answer in zip(sent, answers, strict=True):
            if answer is None:
                confirmed.append(m)
            elif isinstance(answer, Unpublishable):
                await failures.dead_letter(m, answer, answer.kind, m.type)
            else:  # the partition queue is missing or the broker refused: keep it, try later
                log.error("partition_publish_failed", service=self.svc.name, error=repr(answer))
                await acks.nack_one(m)
        await acks.ack(confirmed)
        ROUTED.labels(self.svc.name).inc(len(confirmed))
        if len(confirmed) < len(sent):
            await asyncio.sleep(1.0)

    def _outgoing(self, m: AbstractIncomingMessage, part: int, type_: str) -> Outgoing:
        exchange, key = arrival(m, self.svc.name)
        headers = {k: v for k, v in (m.headers or {}).items() if k not in _DROP_HEADERS}
        headers[F.H_ORIG_EXCHANGE] = exchange
        headers[F.H_ORIG_KEY] = key
        props = {k: getattr(m, k, None) for k in _KEEP_PROPS}
        props["headers"] = headers
        return Outgoing(partitions_exchange(self.svc.name), str(part), m.body, props, type_)

    async def _layout_gate(self, conn: AbstractConnection) -> None:
        """When the partition count changed since the last router, wait until the partitions
        of the old count are empty before routing with the new one: a key that moves to
        another partition then has no earlier message left behind in the old one."""
        coll = self.db[LAYOUT]
        doc = await coll.find_one({"_id": "layout"})
        old = int(doc["count"]) if doc else None
        if old is not None and old != self.count:
            log.warning("partition_count_changed", service=self.svc.name, old=old, new=self.count)
            await self._wait_drained(conn, old)
        await coll.update_one({"_id": "layout"}, {"$set": {"count": self.count}}, upsert=True)

    async def _wait_drained(self, conn: AbstractConnection, old: int) -> None:
        ch = await conn.channel()
        quiet_since: float | None = None
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            waiting = 0
            for i in range(old):
                with contextlib.suppress(aiormq.exceptions.ChannelNotFoundEntity):
                    q = await ch.declare_queue(partition_queue(self.svc.name, i), passive=True)
                    waiting += int(q.declaration_result.message_count or 0)
                if ch.is_closed:
                    ch = await conn.channel()
            if waiting == 0:
                quiet_since = quiet_since or loop.time()
                if loop.time() - quiet_since >= self.settings.partition_balance_s * 2:
                    return
            else:
                quiet_since = None
            await asyncio.sleep(0.5)


async def plain_connection(url: str, name: str) -> AbstractConnection:
    """A connection that does not reconnect by itself: the router's lock must die with it."""
    return await aio_pika.connect(url, client_properties={"connection_name": name})
