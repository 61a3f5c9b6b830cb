"""The transactional outbox and its relay.

Events are written in the handler's transaction. The relay, woken after each commit and by a
poll, publishes them with confirms and marks them sent. One replica at a time holds a lease, so
several replicas share the outbox without reordering one aggregate's events; a relay that dies
between publish and mark republishes, and the consumers' inbox makes that harmless.

No event blocks the others: one that can never be published is moved aside to the DLQ and the
aggregate's later events go on. A broker outage keeps everything for the next attempt.

This module puts the parts together; each job is a module of `shared.relay`: layout (the
outbox documents), lease (one publishing replica at a time), drain (read, publish in waves,
mark sent), aside (what is moved aside and how), watch (stall detection and backlog gauges).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from pymongo.errors import PyMongoError

from shared.logging import get_logger
from shared.metrics import OUTBOX_MOVED_ASIDE
from shared.relay.drain import OUTAGE, Drain, PageSender, is_outage, mark, read_page
from shared.relay.layout import OUTBOX, outbox_doc, outbox_events, readable_events, setup
from shared.relay.lease import LEASE, Lease
from shared.relay.watch import GAUGE_S, STALL_S, Watch
from shared.uow import Contract

__all__ = [
    "GAUGE_S",
    "LEASE",
    "OUTAGE",
    "OUTBOX",
    "STALL_S",
    "OutboxRelay",
    "outbox_doc",
    "outbox_events",
    "readable_events",
    "setup",
]

log = get_logger("shared.outbox")


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
        self.poll_s = poll_s
        self.batch = batch
        OUTBOX_MOVED_ASIDE.labels(service)  # exported at 0 from the start, so increase() sees 1
        self._lease = Lease(service, db, lease_s)
        self.owner = self._lease.owner
        self._sender = PageSender(service, publisher, contract)
        self._watch = Watch(service, db, stall_s)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._more = False  # the last drain read a full page: more may be waiting

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox")
        self._task.add_done_callback(self._ended)
        self._watcher = asyncio.create_task(
            self._watch.run(self._leading), name=f"{self.service}-outbox-watch"
        )

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
        await self._lease.release()

    def stalled_s(self) -> float:
        """How long events have waited while this relay, holding the lease, published none."""
        return self._watch.stalled_s()

    def health(self) -> str:
        """`ok`, or why the outbox is not (for /readyz)."""
        return self._watch.health()

    def _leading(self, now: float) -> bool:
        return now < self._lease.until

    async def _run(self) -> None:
        backoff = self.poll_s
        while not self._stopping:
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=backoff)
                self._wake.clear()
                self._watch.draining_since = time.monotonic()
                await self.drain_once()
                backoff = self.poll_s
                if self._more:  # else a commit since the read has set the wake already
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep the events, retry later; never end the task
                backoff = min(max(backoff * 2, 0.5), 5.0)
                if is_outage(e) or isinstance(e, PyMongoError):  # broker or database down
                    log.warning("outbox_relay_failed", error=repr(e)[:500], retry_in_s=backoff)
                else:
                    log.error(
                        "outbox_relay_failed", error=repr(e)[:500], retry_in_s=backoff, exc_info=e
                    )
            finally:
                self._watch.draining_since = None

    async def drain_once(self) -> int:
        """Publish the oldest unsent batches; return how many events were handled."""
        self._more = False
        if not await self._lease.hold():
            self._watch.waiting_since = None  # another replica's job
            return 0
        page = max(1, self.batch // 50)
        docs = await read_page(self.db, page)
        self._more = len(docs) >= page
        if not docs:
            self._watch.empty()
            return 0
        if self._watch.waiting_since is None:
            self._watch.waiting_since = time.monotonic()
        d = await self._sender.send(docs)
        await self._mark(docs, d)
        if d.errors:
            raise d.errors[0]
        return d.counted

    async def _mark(self, docs: list[dict[str, Any]], d: Drain) -> None:
        """Record what the drain did; until this is done its events count as unsent."""
        if await mark(self.db, self.service, docs, d):
            self._watch.waiting_since = None
