"""The consumer: batches from the service queue, one transaction per batch (inbox + handlers +
outbox), ack after commit. Invalid messages are dead-lettered at once; a failing message is
isolated from its batch, retried with growing delays, then dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from shared import failures as F
from shared import inbox
from shared.acks import Settler
from shared.envelope import CloudEvent, EnvelopeError, parse, short_errors
from shared.errors import (
    ContractViolation,
    PermanentError,
    RetryableError,
    SchemaInvalid,
    UnknownType,
)
from shared.logging import get_logger
from shared.messaging import Publisher
from shared.metrics import (
    BATCH_SIZE,
    CONSUMED,
    DLQ_PUBLISHED,
    EVENT_LAG,
    FAILED,
    HANDLER_SECONDS,
    TXN_RETRIES,
)
from shared.mongo_uow import MongoUnitOfWork, flush
from shared.service import Incoming, Route, ServiceDefinition
from shared.sessions import SessionRegistry
from shared.topology import dlx, main_queue, retry_exchange, retry_queue
from shared.uow import contract_from

log = get_logger("shared.consumer")


ANY_KEY = "*"  # the partition key of a message whose route names no documents

# Waits before a batch transaction is redone. The database unreachable: growing to 5 s. A write
# conflict (another replica committed one of the batch's documents first): at most 0.25 s, for
# the other replica keeps committing, and a replica that slept seconds after a few conflicts in
# a row sat on its prefetched messages meanwhile (seen: one of two replicas idle for 7 s).
_OUTAGE_WAIT = wait_exponential_jitter(multiplier=0.02, max=5.0, jitter=0.05)
_CONFLICT_WAIT = wait_exponential_jitter(multiplier=0.01, max=0.25, jitter=0.02)
CONFLICT_RETRY_S = 60.0  # about what 20 attempts with waits growing to 5 s used to take


def retry_wait(rs: RetryCallState) -> float:
    """How long to wait before a batch transaction is redone, by what failed it."""
    exc = rs.outcome.exception() if rs.outcome else None
    inner = exc.exc if isinstance(exc, HandlerFailed) else exc
    if isinstance(inner, ConnectionFailure):
        return float(_OUTAGE_WAIT(rs))
    return float(_CONFLICT_WAIT(rs))


@dataclass
class Parsed:
    message: AbstractIncomingMessage
    envelope: CloudEvent
    route: Route
    incoming: Incoming[Any]
    preload: list[tuple[str, str]]  # (collection, key) the handler will read
    keys: tuple[str, ...]  # what it touches, for scheduling: no two batches in flight share one


class HandlerFailed(Exception):
    def __init__(self, index: int, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.index = index
        self.exc = exc


def is_transient(e: BaseException) -> bool:
    if isinstance(e, ConnectionFailure):
        return True
    if isinstance(e, PyMongoError) and (
        e.has_error_label("TransientTransactionError")
        or e.has_error_label("UnknownTransactionCommitResult")
        or e.has_error_label("RetryableWriteError")
    ):
        return True
    return isinstance(e, OperationFailure) and e.code in {112, 244, 251, 262}


class Consumer:
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
        self.client = client
        self.db = db
        self.connection = connection
        self.publisher = publisher
        self.on_commit_hook = on_commit
        self.sessions = sessions
        self.queue_name = main_queue(svc.name)
        self._contract = contract_from(svc.publishes)
        self._window = settings.event_time_window()
        self._channel: AbstractRobustChannel | None = None
        self._tag: str | None = None
        self._queue: Any = None
        self._pending: list[Parsed] = []  # validated, not yet in a batch, in delivery order
        self._wake = asyncio.Event()  # a message arrived or a batch finished
        self._held: dict[str, int] = {}  # keys of the batches in flight
        self._running: set[asyncio.Task[None]] = set()
        self._full_retry_at = 0  # pending length at which to try a full batch again
        self._metric_children: dict[str, tuple[Any, Any]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False
        self._acks = Settler()
        self.idle = asyncio.Event()
        self.idle.set()
        self.after_commit_before_ack: Callable[[], Awaitable[None]] | None = None  # test hook

    async def start(self) -> None:
        ch = await self.connection.channel()
        await ch.set_qos(prefetch_count=self.settings.prefetch)
        self._channel = ch
        self._queue = await ch.get_queue(self.queue_name, ensure=True)
        self._tag = await self._queue.consume(self._on_message)
        name = self.svc.name
        self._workers = [asyncio.create_task(self._schedule(), name=f"{name}-batches")]

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        """Validate a delivery as it arrives (an invalid one goes to the DLQ at once) and queue
        it for a batch. aio-pika runs this in a task per delivery, started in delivery order;
        nothing is awaited before a valid message joins the pending list, so the list keeps
        delivery order (no queue and dispatcher task in between: that cost a hand-off per
        message)."""
        self._acks.received(message)
        if self._stopping:  # arrived after the cancel: back to the queue
            await self._nack(message)
            return
        self.idle.clear()
        try:
            p = await self._admit(message)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never lose a message: give it back
            log.error("dispatch_failed", error=repr(e), exc_info=True)
            await self._nack(message)
            return
        if p is not None:
            self._pending.append(p)
            self._wake.set()

    async def stop(self, grace_s: float) -> None:
        """Stop taking messages, finish the batches in hand; unprocessed ones are requeued."""
        self._stopping = True
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        if self._workers:
            # give back what no batch has taken yet; finish the batches in hand
            await self._give_back()
            if not self._acks.all_settled():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._wait_idle(), timeout=grace_s)
            tasks = [*self._workers, *self._running]
            for w in tasks:
                w.cancel()
            for w in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await w
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()

    async def _give_back(self) -> None:
        waiting = [p.message for p in self._pending]
        self._pending = []
        for m in waiting:
            await self._nack(m)

    async def _wait_idle(self) -> None:
        while not self._acks.all_settled():
            self.idle.clear()
            await self.idle.wait()

    async def _admit(self, m: AbstractIncomingMessage) -> Parsed | None:
        try:
            return self._validate(m)
        except EnvelopeError as e:
            await self._dead_letter(m, e, e.kind, None)
        except PermanentError as e:
            await self._dead_letter(m, e, e.kind, _peek_type(m))
        return None

    async def _schedule(self) -> None:
        """Form batches and run them, up to `lanes` at once.

        One batch runs whenever messages wait: it takes what arrived within `batch_wait_ms`,
        up to `batch_size`. A further batch starts beside running ones only when a full batch
        of messages waits (a backlog), so under light load there is one transaction at a time
        and the latency of one, and under a backlog the database's work on one batch overlaps
        this process's Python on another. No two batches in flight share a document the
        route's `preload` names, and a message waits behind an earlier one that shares a
        document with it, so one aggregate's messages are applied in delivery order."""
        loop = asyncio.get_running_loop()
        wait_s = self.settings.batch_wait_ms / 1000
        size = max(1, self.settings.batch_size)
        most = max(1, self.settings.lanes)
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and len(self._running) < most and not self._stopping:
                if self._running:
                    if len(self._pending) < max(size, self._full_retry_at):
                        break
                    batch = self._take(size, full_only=True)
                    if batch is None:  # held back by the batches in flight: try again later
                        self._full_retry_at = len(self._pending) + max(1, size // 4)
                        break
                else:
                    deadline = loop.time() + wait_s
                    while len(self._pending) < size and (left := deadline - loop.time()) > 0:
                        self._wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), left)
                    if self._stopping:
                        break
                    batch = self._take(size, full_only=False)
                    if not batch:
                        break
                self._launch(batch)

    def _take(self, size: int, *, full_only: bool) -> list[Parsed] | None:
        """The next batch from the pending messages, in delivery order, skipping any message
        that shares a key with a batch in flight or with a message skipped before it."""
        held = self._held
        skipped: set[str] = set()  # keys of the messages left behind
        batch: list[Parsed] = []
        rest: list[Parsed] = []
        pending = self._pending
        for i, p in enumerate(pending):
            if len(batch) >= size:
                rest.extend(pending[i:])
                break
            if (held or skipped) and any(k in held or k in skipped for k in p.keys):
                skipped.update(p.keys)
                rest.append(p)
            else:
                batch.append(p)
        if full_only and len(batch) < size:
            return None
        self._pending = rest
        return batch

    def _launch(self, batch: list[Parsed]) -> None:
        keys = [k for p in batch for k in p.keys]
        for k in keys:
            self._held[k] = self._held.get(k, 0) + 1
        self._full_retry_at = 0
        task = asyncio.create_task(self._run_batch(batch, keys), name=f"{self.svc.name}-batch")
        self._running.add(task)

    async def _run_batch(self, batch: list[Parsed], keys: list[str]) -> None:
        try:
            await self.process(batch)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never lose a batch: give it back to the broker
            log.error("batch_crashed", error=repr(e), exc_info=True)
            for p in batch:
                if not self._acks.is_settled(p.message):
                    await self._nack(p.message)
            await asyncio.sleep(0.5)
        finally:
            for k in keys:
                n = self._held.get(k, 0) - 1
                if n > 0:
                    self._held[k] = n
                else:
                    self._held.pop(k, None)
            task = asyncio.current_task()
            if task is not None:
                self._running.discard(task)
            self._full_retry_at = 0
            self._wake.set()

    def _validate(self, m: AbstractIncomingMessage) -> Parsed:
        ev = parse(m.body, window=self._window)
        route = self.svc.route_for(ev.type)
        if route is None:
            raise UnknownType(f"service {self.svc.name} has no handler for type {ev.type!r}")
        exchange, key = arrival(m)
        check_arrival(ev.type, exchange, key, route)
        try:
            data = route.model.model_validate(ev.data)
        except ValidationError as e:
            raise SchemaInvalid(f"data of {ev.type} is invalid: {short_errors(e)}") from e
        inc = Incoming(ev, data, exchange, key, datetime.now(UTC))
        preload: list[tuple[str, str]] = []
        if route.preload is not None:
            with contextlib.suppress(Exception):  # the handler will fail on it, in its batch
                preload = list(route.preload(data))
        shared = self.svc.shared_reads
        keys = tuple(f"{c}\x00{k}" for c, k in preload if c not in shared) or (ANY_KEY,)
        return Parsed(m, ev, route, inc, preload, keys)

    async def process(self, batch: list[Parsed]) -> None:
        parsed: list[Parsed] = []
        seen_ids: set[str] = set()
        for p in batch:
            if p.envelope.id in seen_ids:  # same id twice in one batch: one effect
                CONSUMED.labels(self.svc.name, p.envelope.type, "duplicate").inc()
                await self._ack(p.message)
                continue
            seen_ids.add(p.envelope.id)
            parsed.append(p)
        while parsed:
            try:
                applied, dupes, uow = await self._commit(parsed)
            except HandlerFailed as hf:
                bad = parsed.pop(hf.index)
                await self._handle_failure(bad, hf.exc)
                continue
            for fn in uow.after_commit:
                with contextlib.suppress(Exception):
                    fn()
            if uow.events:
                self.on_commit_hook()
            if self.after_commit_before_ack is not None:
                await self.after_commit_before_ack()
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
            self._note_settled()
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

    async def _commit(self, parsed: list[Parsed]) -> tuple[list[Parsed], set[str], MongoUnitOfWork]:
        """Run the batch in one transaction. Write conflicts are retried in process (tenacity);
        a database outage is waited out without counting against the messages."""

        def transient(e: BaseException) -> bool:
            inner = e.exc if isinstance(e, HandlerFailed) else e
            return is_transient(inner)

        def stop(rs: RetryCallState) -> bool:
            exc = rs.outcome.exception() if rs.outcome else None
            inner = exc.exc if isinstance(exc, HandlerFailed) else exc
            if isinstance(inner, ConnectionFailure):
                return self._stopping and rs.attempt_number > 3
            # conflicts: retried for at least CONFLICT_RETRY_S (given back to the broker after that,
            # where each redelivery counts toward the queue's delivery limit)
            return bool(
                rs.attempt_number >= self.settings.inproc_retries * 5
                and (rs.seconds_since_start or 0.0) >= CONFLICT_RETRY_S
            )

        def before_sleep(rs: RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome else None
            self._note_retry(exc or RuntimeError("retry"), rs.attempt_number)

        t0 = time.perf_counter()
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(transient),
                stop=stop,
                wait=retry_wait,
                before_sleep=before_sleep,
                reraise=True,
            ):
                with attempt:
                    result = await self._commit_once(parsed)
        except PyMongoError as e:
            if is_transient(e):
                raise
            return await self._isolate(parsed, e)
        HANDLER_SECONDS.labels(self.svc.name).observe(
            (time.perf_counter() - t0) / max(1, len(parsed))
        )
        return result

    async def _isolate(
        self, parsed: list[Parsed], e: PyMongoError
    ) -> tuple[list[Parsed], set[str], MongoUnitOfWork]:
        """An unexpected database error: find the message that causes it, one at a time."""
        if len(parsed) == 1:
            raise HandlerFailed(0, e) from e
        for i in range(len(parsed)):
            try:
                await self._commit_once([parsed[i]])
            except PyMongoError as e1:
                if not is_transient(e1):
                    raise HandlerFailed(i, e1) from e1
                raise
        return await self._commit_once([])

    def _note_retry(self, e: BaseException, attempt: int) -> None:
        reason = "conflict" if not isinstance(e, ConnectionFailure) else "unavailable"
        TXN_RETRIES.labels(self.svc.name, reason).inc()
        if attempt in (1, 5) or attempt % 20 == 0:
            log.warning("transaction_retry", attempt=attempt, reason=reason, error=repr(e)[:300])

    async def _commit_once(
        self, parsed: list[Parsed]
    ) -> tuple[list[Parsed], set[str], MongoUnitOfWork]:
        """Optimistic first: record every id in the inbox up front, which fails on a duplicate
        key only when a message was applied before (a redelivery, rare); then redo the batch
        with a read of the inbox first. This saves one query on almost every batch."""
        try:
            return await self._transaction(parsed, check_inbox=False)
        except inbox.AlreadyApplied:
            return await self._transaction(parsed, check_inbox=True)

    async def _transaction(
        self, parsed: list[Parsed], *, check_inbox: bool
    ) -> tuple[list[Parsed], set[str], MongoUnitOfWork]:
        async with self.client.start_session() as session:
            if self.sessions is not None:
                await self.sessions.track(session)
            async with await session.start_transaction():
                uow = MongoUnitOfWork(
                    self.svc.name, self.db, session, self.settings, contract=self._contract
                )
                now = datetime.now(UTC)
                dupes: set[str] = set()
                if check_inbox:
                    dupes = await inbox.seen(self.db, [p.envelope.id for p in parsed], session)
                fresh = [p for p in parsed if p.envelope.id not in dupes]
                await inbox.record(
                    self.db,
                    [
                        (p.envelope.id, p.envelope.type, p.envelope.time, p.envelope.correlationid)
                        for p in fresh
                    ],
                    now,
                    session,
                )
                wanted: dict[str, set[str]] = {}
                for p in fresh:
                    for coll, key in p.preload:
                        wanted.setdefault(coll, set()).add(key)
                if wanted:
                    await uow.preload(wanted)
                applied: list[Parsed] = []
                for i, p in enumerate(parsed):
                    if p.envelope.id in dupes:
                        continue
                    uow.current = p.envelope
                    try:
                        with structlog.contextvars.bound_contextvars(
                            message_id=p.envelope.id,
                            correlation_id=p.envelope.correlationid,
                            type=p.envelope.type,
                        ):
                            await p.route.handler(p.incoming, uow)
                    except PyMongoError as e:
                        if is_transient(e):
                            raise
                        raise HandlerFailed(i, e) from e
                    except Exception as e:
                        raise HandlerFailed(i, e) from e
                    applied.append(p)
                await flush(uow, self.db, session, now)
        return applied, dupes, uow

    async def _handle_failure(self, p: Parsed, exc: BaseException) -> None:
        t = p.envelope.type
        if isinstance(exc, PermanentError):
            await self._dead_letter(p.message, exc, exc.kind, t)
            return
        attempts = F.attempts_of(p.message.headers or {}) + 1
        FAILED.labels(self.svc.name, t, "handler_error").inc()
        if attempts >= self.settings.max_attempts:
            # a RetryableError says what it is once retrying is over (an unknown unit that no
            # item update came to define is a rejection, not a crash)
            kind = exc.kind if isinstance(exc, RetryableError) else "exhausted"
            await self._dead_letter(p.message, exc, kind, t)
            return
        delays = self.settings.retry_delays_s
        delay = delays[min(attempts - 1, len(delays) - 1)]
        headers = F.failure_headers(
            previous=dict(p.message.headers or {}),
            exc=exc,
            kind="handler_error",
            service=self.svc.name,
            queue=self.queue_name,
            exchange=p.message.exchange or "",
            routing_key=p.message.routing_key or t,
            event_type=t,
        )
        log.warning(
            "message_retry_scheduled",
            message_id=p.envelope.id,
            correlation_id=p.envelope.correlationid,
            type=t,
            attempt=attempts,
            delay_s=delay,
            error=repr(exc)[:300],
        )
        await self.publisher.publish_raw(
            retry_exchange(self.svc.name),
            retry_queue(self.svc.name, delay),
            p.message.body,
            _props(p.message),
            headers=headers,
            type_label=t,
        )
        CONSUMED.labels(self.svc.name, t, "retried").inc()
        await self._ack(p.message)

    async def _dead_letter(
        self, m: AbstractIncomingMessage, exc: BaseException, kind: str, event_type: str | None
    ) -> None:
        t = event_type or "unknown"
        headers = F.failure_headers(
            previous=dict(m.headers or {}),
            exc=exc,
            kind=kind,
            service=self.svc.name,
            queue=self.queue_name,
            exchange=m.exchange or "",
            routing_key=m.routing_key or "",
            event_type=event_type,
        )
        log.warning(
            "message_dead_lettered",
            message_id=m.message_id,
            correlation_id=m.correlation_id,
            type=t,
            kind=kind,
            reason=str(exc)[:500],
        )
        await self.publisher.publish_raw(
            dlx(self.svc.name),
            m.routing_key or t,
            m.body,
            _props(m),
            headers=headers,
            type_label=t,
        )
        DLQ_PUBLISHED.labels(self.svc.name, t, kind).inc()
        FAILED.labels(self.svc.name, t, kind).inc()
        CONSUMED.labels(self.svc.name, t, "dead_lettered").inc()
        await self._ack(m)

    async def _ack(self, m: AbstractIncomingMessage) -> None:
        """Ack one message now (its fate is decided: retried or dead-lettered elsewhere)."""
        await self._acks.ack_one(m)
        self._note_settled()

    async def _nack(self, m: AbstractIncomingMessage) -> None:
        """Give one message back to the broker for redelivery."""
        await self._acks.nack_one(m)
        self._note_settled()

    def _note_settled(self) -> None:
        if self._acks.all_settled():
            self.idle.set()


def arrival(m: AbstractIncomingMessage) -> tuple[str, str]:
    """The exchange and routing key a message was published with. A message delivered through
    the default exchange came back from a retry queue or an operator's replay, and its failure
    headers name where it first arrived; on any other exchange the broker's own values count,
    so a publisher cannot claim another exchange through headers it writes itself."""
    if m.exchange:
        return m.exchange, m.routing_key or ""
    headers = m.headers or {}
    return str(headers.get(F.H_ORIG_EXCHANGE) or ""), str(headers.get(F.H_ORIG_KEY) or "")


def check_arrival(event_type: str, exchange: str, key: str, route: Route) -> None:
    """A CloudEvent's `type` must equal the routing key it was published with, on an exchange
    its route accepts: the broker's per-publisher write permissions are per exchange, and a
    `type` that differs from the routing key would get round them."""
    if key != event_type:
        raise ContractViolation(
            f"type {event_type!r} does not match the routing key {key!r} it was published with"
        )
    if exchange not in route.exchanges:
        accepted = ", ".join(route.exchanges)
        raise ContractViolation(
            f"type {event_type!r} is not accepted from exchange {exchange!r} (accepted: {accepted})"
        )


def _peek_type(m: AbstractIncomingMessage) -> str | None:
    with contextlib.suppress(Exception):
        return parse(m.body, window=None).type
    return m.type


def _props(m: AbstractIncomingMessage) -> dict[str, Any]:
    return {
        "message_id": m.message_id,
        "type": m.type,
        "correlation_id": m.correlation_id,
        "timestamp": m.timestamp,
        "content_type": m.content_type,
        "delivery_mode": 2,
    }
