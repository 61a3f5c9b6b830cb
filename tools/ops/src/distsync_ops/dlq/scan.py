"""Walking a queue once under its lock, holding what it reads, and giving it back in order."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import aiormq
from aiormq.abc import AbstractChannel, DeliveredMessage

from distsync_ops.dlq.broker import PUBLISH_ERRORS, Broker, _reason, amqp_properties, same_headers
from distsync_ops.dlq.errors import DlqError, QueueBusy
from distsync_ops.dlq.message import DeadLetter
from distsync_ops.dlq.settings import DlqSettings
from shared.dlq_message import dlx_of
from shared.logging import get_logger
from shared.topology import dlq_lock

log = get_logger("distsync_ops.dlq")


@dataclass
class Item:
    message: DeadLetter
    tag: int


class Scan:
    """Walks a queue once, front to back, holding every message it reads unacknowledged.

    The messages kept are handed back together at the end (consumer cancelled first, then one
    `basic.nack(multiple, requeue)`), so they keep their order whether the broker requeues at
    the head (quorum queues with a delivery limit, all of RabbitMQ 4.x) or at the tail (3.x
    quorum queues without one): this is why a read walks the whole queue, not only `limit`.
    Two cases move kept messages to the tail instead, published again with confirms and only
    then acked (never lost): when one has been handed out `renew_at` times, all kept ones are
    renewed in order (RabbitMQ 4.0-4.2 drop a message after 20 returns by default, and a DLQ
    has nowhere to dead-letter it); and a message beyond the `window` a scan can hold.
    """

    def __init__(
        self,
        broker: Broker,
        queue: str,
        settings: DlqSettings,
        *,
        limit: int | None = None,
        keep_all: bool = False,
    ) -> None:
        self.broker = broker
        self.queue = queue
        self.settings = settings
        self.limit = limit
        self.keep_all = keep_all  # read-only walk: never read more than the window holds
        self.total = 0
        self.depth = 0
        self.seen = 0
        self.renewed = 0
        self.broken: BaseException | None = None
        self._ch: AbstractChannel | None = None
        self._tag: str | None = None
        self._buffer: asyncio.Queue[DeliveredMessage] = asyncio.Queue()
        self._unsettled: set[int] = set()
        self._order: deque[int] = deque()  # unsettled tags in delivery order (lazily pruned)
        self._ready: set[int] = set()
        self._flushed: asyncio.Future[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._held: list[Item] = []
        self._hold_cap = 0
        self._lock: tuple[AbstractChannel, str] | None = None
        self._entry = ("", queue)  # where a renewed copy is published to reach the queue

    async def open(self) -> Scan:
        await self.broker.depth(self.queue)  # exists?
        dlx = dlx_of(self.queue)
        with contextlib.suppress(aiormq.exceptions.AMQPError):
            if dlx and await self.broker.exchange_exists(dlx):
                # a service DLQ is renewed through its dead-letter exchange, which routes only
                # to it, as the runtime's DLQ-age gauge renews it
                self._entry = (dlx, self.queue)
        await self._take_lock()
        self.depth = self.total = await self.broker.depth(self.queue)
        if self.limit is not None:
            self.total = min(self.total, self.limit)
        window = max(10, min(self.settings.dlq_window, 65535))
        inflight = 0 if self.keep_all else min(self.settings.dlq_inflight, window // 2)
        self._hold_cap = window - inflight - 5
        if self.keep_all:
            self.total = min(self.total, self._hold_cap)
        if self.total == 0:
            return self
        self._ch = await self.broker.channel()
        await self._ch.basic_qos(prefetch_count=min(window, self.total + inflight + 5))
        ok = await self._ch.basic_consume(self.queue, self._on_message, no_ack=False)
        self._tag = ok.consumer_tag
        return self

    async def _take_lock(self) -> None:
        """One dlq command per queue at a time, or they would see and reorder each other's
        messages: an exclusive queue is the mutex (the broker frees it if this process dies)."""
        name = dlq_lock(self.queue)
        deadline = time.monotonic() + self.settings.dlq_lock_wait_s
        while True:
            ch = await self.broker.channel()
            try:
                await ch.queue_declare(name, exclusive=True, auto_delete=True)
            except aiormq.exceptions.ChannelLockedResource as e:
                if time.monotonic() >= deadline:
                    raise QueueBusy(
                        f"another dlq command is working on {self.queue} right now: "
                        "try again when it is done"
                    ) from e
                await asyncio.sleep(0.2)
                continue
            self._lock = (ch, name)
            return

    async def _release_lock(self) -> None:
        if self._lock is not None:
            (ch, name), self._lock = self._lock, None
            with contextlib.suppress(Exception):
                await ch.queue_delete(name)
                await ch.close()

    async def _on_message(self, dm: DeliveredMessage) -> None:
        self._buffer.put_nowait(dm)

    async def __aiter__(self) -> AsyncIterator[Item]:
        while self.seen < self.total and self.broken is None:
            try:
                dm = self._buffer.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    dm = await asyncio.wait_for(self._buffer.get(), self.settings.dlq_idle_s)
                except TimeoutError:
                    return  # fewer than expected: someone else holds or took some
            tag = dm.delivery_tag or 0
            self._unsettled.add(tag)
            self._order.append(tag)
            self.seen += 1
            yield Item(DeadLetter.from_delivery(self.queue, self.seen, dm), tag)

    def idle(self) -> bool:
        """Nothing more has arrived yet: a caller collecting a chunk should send it now."""
        return self._buffer.empty()

    async def keep(self, item: Item) -> None:
        """Leave the message in the queue, in its place (given back when the scan closes)."""
        if len(self._held) >= self._hold_cap:
            await self.renew([item])  # the window is full: to the tail, so the scan goes on
        else:
            self._held.append(item)

    async def renew(self, items: list[Item]) -> None:
        """Re-publish fresh copies to the tail in order, then ack the originals."""

        async def copy(item: Item) -> Item | None:
            m = item.message
            headers = same_headers(m)
            try:
                await self.broker.publish(
                    *self._entry, m.body, amqp_properties(m, headers, keep_missing_id=True)
                )
            except PUBLISH_ERRORS as e:
                log.warning("dlq_renew_failed", queue=self.queue, error=_reason(e))
                return None  # stays as it is: given back with the others
            return item

        for i in range(0, len(items), 500):
            for item in await asyncio.gather(*(copy(x) for x in items[i : i + 500])):
                if item is not None:
                    await self.ack(item)
                    self.renewed += 1

    async def ack(self, item: Item) -> None:
        """Remove the message from the queue; call only once what it carries is safe elsewhere.

        Acks are coalesced: everything acked in the same loop tick goes out together, a run of
        consecutive deliveries as one `basic.ack(multiple)`."""
        await self.ack_many((item,))

    async def ack_many(self, items: Iterable[Item]) -> None:
        """`ack` for several messages at once."""
        if self._ch is None or self.broken is not None:
            raise DlqError("the scan is closed")
        self._ready.update(item.tag for item in items)
        if self._flushed is None:
            self._flushed = asyncio.get_running_loop().create_future()
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(self._flushed)

    async def _flush(self) -> None:
        await asyncio.sleep(0)
        assert self._flushed is not None
        done, self._flushed = self._flushed, None
        ready, self._ready = self._ready, set()
        try:
            if self._ch is None:
                raise DlqError("the scan is closed")
            last = None
            while self._order and (
                self._order[0] in ready or self._order[0] not in self._unsettled
            ):
                tag = self._order.popleft()
                if tag in ready:
                    last = tag
                    ready.discard(tag)
                    self._unsettled.discard(tag)
            if last is not None:
                await self._ch.basic_ack(last, multiple=True)
            for tag in sorted(ready):
                await self._ch.basic_ack(tag)
                self._unsettled.discard(tag)
        except Exception as e:
            self.broken = self.broken or e  # the channel died: the broker requeued the rest
            done.set_exception(e)
            done.exception()  # retrieved here; every waiter gets it too
        else:
            done.set_result(None)

    async def close(self) -> None:
        """Stop reading and give back every message not acked, in order."""
        try:
            await self._give_back()
        finally:
            await self._release_lock()

    async def _give_back(self) -> None:
        if self._ch is None:
            return
        ch = self._ch
        try:
            if self._flusher is not None:
                with contextlib.suppress(Exception):
                    await self._flusher
            if self._tag is not None and not ch.is_closed:
                await ch.basic_cancel(self._tag)  # first: nothing handed back comes back to us
                for _ in range(3):
                    await asyncio.sleep(0)  # let deliveries already received reach the buffer
            while not self._buffer.empty():
                self._unsettled.add(self._buffer.get_nowait().delivery_tag or 0)
            held = [x for x in self._held if x.tag in self._unsettled]
            if any(renewal_due(x.message, self.settings) for x in held):
                await self.renew(held)
            if self._unsettled and not ch.is_closed:
                await ch.basic_nack(max(self._unsettled), multiple=True, requeue=True)
        except Exception as e:  # closing the channel below requeues them just the same
            log.warning("dlq_scan_close_failed", queue=self.queue, error=repr(e)[:200])
        finally:
            self._ch = None
            handed_back = len(self._unsettled)
            with contextlib.suppress(Exception):
                await ch.close()
        await self._settled(handed_back)

    async def _settled(self, handed_back: int, timeout: float = 5.0) -> None:
        """Wait until the broker counts what was handed back as ready again (quorum queues do
        it asynchronously), so that a `replay` run right after a `show` sees the whole queue."""
        deadline = time.monotonic() + timeout
        while handed_back and time.monotonic() < deadline:
            try:
                if await self.broker.depth(self.queue) >= handed_back:
                    return
            except Exception:
                return
            await asyncio.sleep(0.05)


def renewal_due(m: DeadLetter, settings: DlqSettings) -> bool:
    """Handing `m` back once more would bring it to `dlq_renew_at` returns (see `Scan`)."""
    renew_at = settings.dlq_renew_at
    return bool(renew_at) and m.returns + 1 >= renew_at


@contextlib.asynccontextmanager
async def scanning(
    broker: Broker,
    queue: str,
    settings: DlqSettings,
    *,
    limit: int | None = None,
    keep_all: bool = False,
) -> AsyncIterator[Scan]:
    scan = await Scan(broker, queue, settings, limit=limit, keep_all=keep_all).open()
    try:
        yield scan
    finally:
        await asyncio.shield(scan.close())
