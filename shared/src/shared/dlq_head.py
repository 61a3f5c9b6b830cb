"""Reading the first message of a DLQ in place, for the DLQ-age gauge a service runs.

It keeps the rules every reader of a DLQ keeps (the `distsync dlq` tools read the same queues
the same way): it holds the queue's lock (`topology.dlq_lock`) while it reads, so two readers
never see and reorder each other's messages; whatever it takes it hands back in order; and a
message handed back often is renewed before the broker's delivery limit can drop it.

Handing back keeps the order in two ways. RabbitMQ 4.x quorum queues put a returned message
back at the head, so the head alone is taken (`basic.get`) and returned. 3.x quorum queues
without a delivery limit (our DLQs declare none) put it at the tail, so the whole queue is
taken and returned with one `basic.nack(multiple, requeue)`. When a message it takes has been
handed out `renew_at - 1` times (`DISTSYNC_DLQ_RENEW_AT`), the whole queue is taken and every
message is published again to the tail in order (through `<service>.dlx`, which routes only to
the DLQ: a service's user may not write to the default exchange), then acked; their return
counters start again from zero.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from pamqp import commands as spec

from shared.dlq_message import Head, dlx_of, renewal_due, renewal_properties
from shared.logging import get_logger

log = get_logger("shared.dlq_head")

RENEW_AT = 10  # returns after which the whole queue is published again (0: never)
WINDOW = 60_000  # messages one walk may hold unacknowledged (prefetch, <= 65535)
IDLE_S = 3.0  # a walk ends when the queue delivers nothing for this long


async def depth(conn: AbstractConnection, queue: str) -> int:
    ch = await conn.channel()
    try:
        ok = await ch.queue_declare(queue, passive=True)
    finally:
        with contextlib.suppress(Exception):
            await ch.close()
    return int(ok.message_count or 0)


@contextlib.asynccontextmanager
async def locked(conn: AbstractConnection, lock: str) -> AsyncIterator[bool]:
    """Yield True while holding the exclusive queue `lock`, False when another reader has it."""
    ch = await conn.channel()
    try:
        await ch.queue_declare(lock, exclusive=True, auto_delete=True)
    except aiormq.exceptions.ChannelLockedResource:
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(Exception):
            await ch.queue_delete(lock)
            await ch.close()


async def read_head(
    conn: AbstractConnection,
    queue: str,
    *,
    in_place: bool,
    renew_at: int,
) -> Head | None:
    """The queue's first message, left in place and in order (call it holding the lock)."""
    if in_place:
        ch = await conn.channel()
        try:
            dm = await ch.basic_get(queue, no_ack=False)
            if isinstance(dm.delivery, spec.Basic.GetEmpty):
                return None
            head = Head.of(queue, dm)
            await ch.basic_nack(dm.delivery_tag or 0, requeue=True)
        finally:
            with contextlib.suppress(Exception):
                await ch.close()
        if not renewal_due(head, renew_at):
            return head
    return await _walk(conn, queue, renew_at)


async def _walk(conn: AbstractConnection, queue: str, renew_at: int) -> Head | None:
    """Take the whole queue, then hand it all back in order, renewed when one of them is due."""
    total = min(await depth(conn, queue), WINDOW - 5)
    if total == 0:
        return None
    ch = await conn.channel()
    got: list[DeliveredMessage] = []
    arrived = asyncio.Event()

    async def on_message(dm: DeliveredMessage) -> None:
        got.append(dm)
        arrived.set()

    try:
        await ch.basic_qos(prefetch_count=min(WINDOW, total + 5))
        ok = await ch.basic_consume(queue, on_message, no_ack=False)
        while len(got) < total:
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), IDLE_S)
            except TimeoutError:
                break  # fewer than expected: someone else took some
        await ch.basic_cancel(ok.consumer_tag or "")
        for _ in range(3):
            await asyncio.sleep(0)  # deliveries already received reach `got`
        if not got:
            return None
        heads = [Head.of(queue, dm) for dm in got]
        if any(renewal_due(h, renew_at) for h in heads):
            await _renew(conn, ch, queue, got, heads)
        else:
            await ch.basic_nack(max(dm.delivery_tag or 0 for dm in got), multiple=True)
        return heads[0]
    finally:
        with contextlib.suppress(Exception):
            await ch.close()  # the broker requeues whatever is still unacknowledged


async def _renew(
    conn: AbstractConnection,
    ch: AbstractChannel,
    queue: str,
    got: list[DeliveredMessage],
    heads: list[Head],
) -> None:
    """Publish fresh copies to the tail in order, confirmed, then ack the originals; a copy
    the broker refuses leaves its original to be handed back with the rest."""
    entry = await _entry(conn, queue)
    pub = await conn.channel(publisher_confirms=True)
    acked: list[int] = []
    try:
        for i in range(0, len(got), 500):
            chunk = list(zip(got[i : i + 500], heads[i : i + 500], strict=True))
            results = await asyncio.gather(
                *(
                    pub.basic_publish(
                        dm.body,
                        exchange=entry,
                        routing_key=queue,
                        properties=renewal_properties(dm, h),
                        mandatory=True,
                    )
                    for dm, h in chunk
                ),
                return_exceptions=True,
            )
            for (dm, _), res in zip(chunk, results, strict=True):
                if isinstance(res, spec.Basic.Ack):
                    acked.append(dm.delivery_tag or 0)
                else:
                    log.warning("dlq_renew_failed", queue=queue, error=repr(res)[:300])
    finally:
        with contextlib.suppress(Exception):
            await pub.close()
    for tag in acked:
        await ch.basic_ack(tag)
    done = set(acked)
    rest = [dm.delivery_tag or 0 for dm in got if (dm.delivery_tag or 0) not in done]
    if rest:
        await ch.basic_nack(max(rest), multiple=True)


async def _entry(conn: AbstractConnection, queue: str) -> str:
    """Where a renewed copy is published: the service's dead-letter exchange when it exists
    (it routes only to the DLQ), else the default exchange."""
    dlx = dlx_of(queue)
    if not dlx:
        return ""
    ch = await conn.channel()
    try:
        await ch.exchange_declare(dlx, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return ""
    with contextlib.suppress(Exception):
        await ch.close()
    return dlx
