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
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from pamqp import commands as spec

from shared import failures as F
from shared.amqp_batch import PropertiesWithoutId
from shared.amqp_wire import RawProperties
from shared.logging import get_logger

log = get_logger("shared.dlq_head")

RENEW_AT = 10  # returns after which the whole queue is published again (0: never)
WINDOW = 60_000  # messages one walk may hold unacknowledged (prefetch, <= 65535)
IDLE_S = 3.0  # a walk ends when the queue delivers nothing for this long
BROKER_COUNTERS = ("x-delivery-count", "x-acquired-count")  # set by the queue, never copied
PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "message_type",
    "app_id",
)  # all but user_id, which RabbitMQ accepts only when it names the publishing user


@dataclass(frozen=True)
class Head:
    """What the gauge reads off a DLQ's first message."""

    queue: str
    body: bytes
    headers: dict[str, Any]
    message_id: str | None = None
    timestamp: datetime | None = None

    @property
    def last_failure(self) -> datetime | None:
        """When it was dead-lettered: `last-failure-time`, else the broker's `x-death` time
        (a delivery limit), else the message's own timestamp."""
        t = _time(self.headers.get(F.H_LAST))
        if t is None:
            deaths = self.headers.get("x-death")
            if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
                t = _time(deaths[-1].get("time"))
        return t or _time(self.timestamp)

    @property
    def identity(self) -> str:
        return self.message_id or hashlib.sha1(self.body).hexdigest()

    @property
    def returns(self) -> int:
        """How often the queue handed it out and got it back."""
        return max(_count(self.headers.get(h)) for h in BROKER_COUNTERS)

    @classmethod
    def of(cls, queue: str, dm: DeliveredMessage) -> Head:
        p = dm.header.properties
        headers = p.headers if isinstance(p.headers, dict) else {}
        mid = p.message_id if isinstance(p.message_id, str) else None
        ts = p.timestamp if isinstance(p.timestamp, datetime) else None
        return cls(queue, dm.body, dict(headers), mid, ts)


def renewal_due(head: Head, renew_at: int) -> bool:
    """Handing `head` back once more would bring it to `renew_at` returns."""
    return bool(renew_at) and head.returns + 1 >= renew_at


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
    renew_at: int = RENEW_AT,
    idle_s: float = IDLE_S,
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
    return await _walk(conn, queue, renew_at, idle_s)


async def _walk(conn: AbstractConnection, queue: str, renew_at: int, idle_s: float) -> Head | None:
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
                await asyncio.wait_for(arrived.wait(), idle_s)
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
                        properties=_renewal_properties(dm, h),
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
    dlx = _dlx_of(queue)
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


def _renewal_properties(dm: DeliveredMessage, head: Head) -> Any:
    """The message's own properties, and its headers without the queue's counters; where it
    was first published is written down if only the delivery said so (the copy comes in
    through the dead-letter exchange, which would lose it)."""
    p = dm.header.properties
    if isinstance(p, RawProperties) and p.user_id is None:
        return p  # undecodable: sent back byte for byte
    headers = {k: v for k, v in head.headers.items() if k not in BROKER_COUNTERS}
    exchange, key = dm.exchange or "", dm.routing_key or ""
    reentered = key == head.queue and exchange in ("", _dlx_of(head.queue))
    if F.H_ORIG_EXCHANGE not in headers and not reentered:
        deaths = headers.get("x-death")
        death = deaths[-1] if isinstance(deaths, list) and deaths else {}
        death = death if isinstance(death, dict) else {}
        keys = death.get("routing-keys")
        headers[F.H_ORIG_EXCHANGE] = _text(
            headers.get("x-first-death-exchange") or death.get("exchange") or exchange
        )
        headers[F.H_ORIG_KEY] = _text(
            headers.get(F.H_ORIG_KEY) or (keys[0] if isinstance(keys, list) and keys else key)
        )
    props = {n: getattr(p, n) for n in PROPERTY_NAMES if getattr(p, n, None) is not None}
    if props.get("delivery_mode") not in (None, 1, 2):
        props["delivery_mode"] = 2  # pamqp encodes no other value; 2 keeps it on disk
    cls = spec.Basic.Properties if props.get("message_id") else PropertiesWithoutId
    return cls(headers=_amqp_safe(headers), **props)


def _dlx_of(queue: str) -> str:
    return queue[: -len(".dlq")] + ".dlx" if queue.endswith(".dlq") else ""


def _amqp_safe(v: Any) -> Any:
    """pamqp decodes a non-UTF-8 long string as bytes but only encodes bytearray."""
    if isinstance(v, bytes):
        return bytearray(v)
    if isinstance(v, dict):
        return {k: _amqp_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_amqp_safe(x) for x in v]
    return v


def _text(v: Any) -> str:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode(errors="replace")
    return "" if v is None else str(v)


def _time(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, (str, bytes, bytearray)) and len(v) <= 100:
        try:
            t = datetime.fromisoformat(_text(v).strip().replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            return None
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return None


def _count(v: Any) -> int:
    """A count from a header of any type; 0 unless it reads as a whole number from 0 to 2**31."""
    try:
        n = int(v) if isinstance(v, (int, float)) else int(_text(v)) if v is not None else 0
    except (ValueError, OverflowError):
        return 0
    return n if 0 <= n < 2**31 else 0
