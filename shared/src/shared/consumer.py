"""The consumer: batches from the service queue, one transaction per batch (inbox + handlers +
outbox), ack after commit. Invalid messages are dead-lettered at once; a failing message is
isolated from its batch, retried with growing delays, then dead-lettered.

This module puts the parts together; each job is a module of `shared.consume`: admission
(parse and validate a delivery), scheduling (which messages form a batch, and when it runs),
transaction (the batch's transaction and the policy that redoes it), routing (retry or
dead-letter a failed message); `shared.acks` settles the deliveries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection

from shared.acks import Settler
from shared.consume.admission import ANY_KEY, Admission, Parsed, arrival, check_arrival, peek_type
from shared.consume.partitions import PartitionSet
from shared.consume.routing import FailureRouter
from shared.consume.scheduling import BatchScheduler
from shared.consume.transaction import (
    CONFLICT_RETRY_S,
    BatchTransaction,
    HandlerFailed,
    is_transient,
    retry_wait,
)
from shared.envelope import EnvelopeError
from shared.errors import PermanentError
from shared.logging import get_logger
from shared.messaging import Publisher
from shared.metrics import BATCH_SIZE, CONSUMED, EVENT_LAG
from shared.retention import dedup_horizon
from shared.service import ServiceDefinition
from shared.sessions import SessionRegistry
from shared.topology import main_queue
from shared.uow import contract_from

__all__ = [
    "ANY_KEY",
    "CONFLICT_RETRY_S",
    "Consumer",
    "HandlerFailed",
    "Parsed",
    "arrival",
    "check_arrival",
    "is_transient",
    "retry_wait",
]

log = get_logger("shared.consumer")


class Consumer:
    """Consumes one service's queue: admits each delivery, runs batches, settles every message."""

    def __init__(
        self,
        svc: ServiceDefinition,
        settings: Any,
        client: Any,
        db: Any,
        connection: AbstractRobustConnection,
        publisher: Publisher,
        on_commit: Callable[[], None],
        sessions: SessionRegistry | None = None,
    ) -> None:
        self.svc = svc
        self.settings = settings
        self.connection = connection
        self.on_commit_hook = on_commit
        self.queue_name = main_queue(svc.name)
        self._channel: AbstractRobustChannel | None = None
        self._tag: str | None = None
        self._queue: Any = None
        self._partitions: PartitionSet | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._metric_children: dict[str, tuple[Any, Any]] = {}
        self._acks = Settler()
        self._admission = Admission(svc, settings.event_time_window(), dedup_horizon(settings))
        self._router = FailureRouter(svc.name, self.queue_name, settings, publisher, self._acks)
        self._batches = BatchScheduler(svc.name, settings, self.process, self._give_back)
        self._txn = BatchTransaction(
            svc.name,
            settings,
            client,
            db,
            contract=contract_from(svc.publishes),
            sessions=sessions,
            stopping=lambda: self._batches.stopping,
        )

    async def start(self, *, partitions: int = 1) -> None:
        """Consume the service queue, or with `partitions` > 1 this replica's share of the
        partitions the router fills (shared.consume.partitions)."""
        self._batches.stopping = False  # a consumer stopped and started again consumes again
        name = self.svc.name
        self._workers = [asyncio.create_task(self._batches.run(), name=f"{name}-batches")]
        if partitions > 1:
            self._partitions = PartitionSet(
                name,
                self.settings,
                self.connection,
                self._acks,
                self._on_admitted,
                self._batches.withdraw,
                partitions,
            )
            await self._partitions.start()
            return
        ch = await self.connection.channel()
        await ch.set_qos(prefetch_count=self.settings.prefetch)
        self._channel = ch
        self._queue = await ch.get_queue(self.queue_name, ensure=True)
        self._tag = await self._queue.consume(self._on_message)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        """Validate a delivery as it arrives (an invalid one goes to the DLQ at once) and queue
        it for a batch. aio-pika runs this in a task per delivery, started in delivery order;
        nothing is awaited before a valid message joins the pending list, so the list keeps
        delivery order without a queue and a dispatcher task in between (a hand-off per
        message)."""
        self._acks.received(message)
        if self._batches.stopping:  # arrived after the cancel: back to the queue
            await self._acks.nack_one(message)
            return
        await self._on_admitted(message)

    async def _on_admitted(self, message: AbstractIncomingMessage) -> None:
        """Admit a delivery already counted as received into the pending batches."""
        try:
            p = await self._admit(message)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never lose a message: give it back
            log.error("dispatch_failed", error=repr(e), exc_info=True)
            await self._acks.nack_one(message)
            return
        if p is not None:
            self._batches.offer(p)

    async def _admit(self, m: AbstractIncomingMessage) -> Parsed | None:
        try:
            return self._admission.parse(m)
        except EnvelopeError as e:
            await self._router.dead_letter(m, e, e.kind, None)
        except PermanentError as e:
            await self._router.dead_letter(m, e, e.kind, peek_type(m))
        return None

    async def stop(self, grace_s: float) -> None:
        """Stop taking messages, finish the batches in hand; unprocessed ones are requeued."""
        self._batches.stopping = True
        if self._partitions is not None:  # hand each partition on, its batches finished
            await self._partitions.stop()
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        if self._workers:
            # give back what no batch has taken yet; finish the batches in hand
            for p in self._batches.take_all():
                await self._acks.nack_one(p.message)
            if not self._acks.all_settled():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._acks.wait_settled(), timeout=grace_s)
            tasks = [*self._workers, *self._batches.running]
            for w in tasks:
                w.cancel()
            for w in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await w
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()

    async def _give_back(self, batch: list[Parsed]) -> None:
        """Return a crashed batch's unsettled messages to the broker for redelivery."""
        for p in batch:
            if not self._acks.is_settled(p.message):
                await self._acks.nack_one(p.message)

    async def process(self, batch: list[Parsed]) -> None:
        """Commit a batch, taking out each message whose handler fails (it is retried or
        dead-lettered on its own), then ack the rest."""
        parsed: list[Parsed] = []
        seen_ids: set[str] = set()
        for p in batch:
            if p.envelope.id in seen_ids:  # same id twice in one batch: one effect
                CONSUMED.labels(self.svc.name, p.envelope.type, "duplicate").inc()
                await self._acks.ack_one(p.message)
                continue
            seen_ids.add(p.envelope.id)
            parsed.append(p)
        while parsed:
            try:
                applied, dupes, uow = await self._txn.commit(parsed)
            except HandlerFailed as hf:
                bad = parsed.pop(hf.index)
                await self._router.handler_failed(bad, hf.exc)
                continue
            for fn in uow.after_commit:
                with contextlib.suppress(Exception):
                    fn()
            if uow.events:
                self.on_commit_hook()
            now = datetime.now(UTC)
            for p in parsed:
                t = p.envelope.type
                if p.envelope.id in dupes:
                    CONSUMED.labels(self.svc.name, t, "duplicate").inc()
                else:
                    applied_total, lag = self._applied_metrics(t)
                    applied_total.inc()
                    lag.observe(max(0.0, (now - p.envelope.time).total_seconds()))
            await self._acks.ack([p.message for p in parsed])
            BATCH_SIZE.labels(self.svc.name).observe(len(applied))
            break

    def _applied_metrics(self, event_type: str) -> tuple[Any, Any]:
        """The applied counter and lag histogram of a type (`labels()` costs a lock and a
        lookup per call; this is called for every message)."""
        m = self._metric_children.get(event_type)
        if m is None:
            m = self._metric_children[event_type] = (
                CONSUMED.labels(self.svc.name, event_type, "applied"),
                EVENT_LAG.labels(self.svc.name, event_type),
            )
        return m
