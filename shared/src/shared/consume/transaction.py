"""The batch transaction: inbox, handlers and outbox in one MongoDB transaction, and the policy
that redoes it in process. A write conflict (another replica committed one of the batch's
documents first) is redone within a quarter of a second, for the other replica keeps committing
and this one holds its prefetched messages meanwhile; a database outage is waited out with
pauses growing to 5 s, without counting against the messages. A handler's failure names the
message that caused it, so the caller can take that message out and commit the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from shared import inbox
from shared.consume.admission import Parsed
from shared.logging import get_logger
from shared.metrics import HANDLER_SECONDS, TXN_RETRIES
from shared.mongo_uow import MongoUnitOfWork, flush
from shared.sessions import SessionRegistry
from shared.uow import Contract

log = get_logger("shared.consumer")

_OUTAGE_WAIT = wait_exponential_jitter(multiplier=0.02, max=5.0, jitter=0.05)
_CONFLICT_WAIT = wait_exponential_jitter(multiplier=0.01, max=0.25, jitter=0.02)
# a batch that keeps conflicting is redone in process at least this long before it goes back to
# the broker, where each redelivery counts toward the queue's delivery limit
CONFLICT_RETRY_S = 60.0

Committed = tuple[list[Parsed], set[str], MongoUnitOfWork]  # applied, duplicate ids, the work


class HandlerFailed(Exception):
    """The handler of the batch's `index`-th message raised `exc`: that message alone failed."""

    def __init__(self, index: int, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.index = index
        self.exc = exc


def is_transient(e: BaseException) -> bool:
    """A database failure that redoing the same transaction can cure."""
    if isinstance(e, ConnectionFailure):
        return True
    if isinstance(e, PyMongoError) and (
        e.has_error_label("TransientTransactionError")
        or e.has_error_label("UnknownTransactionCommitResult")
        or e.has_error_label("RetryableWriteError")
    ):
        return True
    return isinstance(e, OperationFailure) and e.code in {112, 244, 251, 262}


def _cause(e: BaseException | None) -> BaseException | None:
    """The handler's own error when `e` wraps it."""
    return e.exc if isinstance(e, HandlerFailed) else e


def retry_wait(rs: RetryCallState) -> float:
    """How long to wait before a batch transaction is redone, by what failed it."""
    if isinstance(_cause(rs.outcome.exception() if rs.outcome else None), ConnectionFailure):
        return float(_OUTAGE_WAIT(rs))
    return float(_CONFLICT_WAIT(rs))


class BatchTransaction:
    """Commits batches of one service: inbox + handlers + outbox, redone while it is transient."""

    def __init__(
        self,
        service: str,
        settings: Any,
        client: Any,
        db: Any,
        *,
        contract: Contract | None,
        sessions: SessionRegistry | None,
        stopping: Callable[[], bool],
    ) -> None:
        self.service = service
        self.settings = settings
        self.client = client
        self.db = db
        self.contract = contract
        self.sessions = sessions
        self._stopping = stopping
        self.inbox = inbox.Inbox.of(db, settings)

    async def commit(self, parsed: list[Parsed]) -> Committed:
        """Run the batch in one transaction. Write conflicts are retried in process (tenacity);
        a database outage is waited out without counting against the messages. HandlerFailed
        names the one message that failed."""

        def transient(e: BaseException) -> bool:
            return is_transient(e.exc if isinstance(e, HandlerFailed) else e)

        def stop(rs: RetryCallState) -> bool:
            inner = _cause(rs.outcome.exception() if rs.outcome else None)
            if isinstance(inner, ConnectionFailure):  # waited out; given up only when stopping
                return self._stopping() and rs.attempt_number > 3
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
        HANDLER_SECONDS.labels(self.service).observe(
            (time.perf_counter() - t0) / max(1, len(parsed))
        )
        return result

    async def _isolate(self, parsed: list[Parsed], e: PyMongoError) -> Committed:
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
        TXN_RETRIES.labels(self.service, reason).inc()
        if attempt in (1, 5) or attempt % 20 == 0:
            log.warning("transaction_retry", attempt=attempt, reason=reason, error=repr(e)[:300])

    async def _commit_once(self, parsed: list[Parsed]) -> Committed:
        """Optimistic first: the batch's ids are looked up in the inbox's older buckets and
        inserted into their own without a read there, which fails on a duplicate key only when
        a message was applied before into that bucket (a redelivery, rare); then the batch is
        redone with a read of every bucket. This saves one query on almost every batch."""
        try:
            return await self._transaction(parsed, check_inbox=False)
        except inbox.AlreadyApplied:
            return await self._transaction(parsed, check_inbox=True)

    async def _transaction(self, parsed: list[Parsed], *, check_inbox: bool) -> Committed:
        now = datetime.now(UTC)
        await self.inbox.prepare([p.envelope.time for p in parsed], now)
        async with self.client.start_session() as session:
            if self.sessions is not None:
                await self.sessions.track(session)
            async with await session.start_transaction():
                uow = MongoUnitOfWork(
                    self.service, self.db, session, self.settings, contract=self.contract
                )
                targets = {self.inbox.target(p.envelope.time, now) for p in parsed}
                dupes = await self.inbox.seen(
                    [p.envelope.id for p in parsed],
                    session,
                    now,
                    skip=() if check_inbox else targets,
                )
                fresh = [p for p in parsed if p.envelope.id not in dupes]
                await self.inbox.record(
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
