"""Talking to the broker: one connection per operation, confirmed `mandatory` publishes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection
from pamqp import commands as spec

from distsync_ops.dlq.errors import DlqError, UsageError
from distsync_ops.dlq.message import DeadLetter
from distsync_ops.dlq.values import amqp_safe
from shared import failures as F
from shared.amqp_batch import (
    Pending,
    PropertiesWithoutId,
    PublishCancelled,
    batchable,
    follow,
    publish_batch,
)
from shared.amqp_wire import RawProperties, tolerate_undecodable_properties
from shared.dlq_message import BROKER_COUNTERS
from shared.endpoints import connect_first

CONNECTION_NAME = "distsync-dlq"  # what the management UI shows


def same_headers(m: DeadLetter) -> dict[str, Any]:
    """The headers to put the message back into its queue with: all of them (the queue's own
    delivery counters aside), plus where it was first published if only the delivery said so
    (`unrouted`, broker dead-lettering): going back in through the default exchange loses that."""
    h = {k: v for k, v in m.headers.items() if k not in BROKER_COUNTERS}
    if F.H_ORIG_EXCHANGE not in h and not m.reentered:
        h[F.H_ORIG_EXCHANGE] = m.original_exchange
        h[F.H_ORIG_KEY] = m.original_routing_key
    return h


def amqp_properties(
    m: DeadLetter, headers: dict[str, Any], *, keep_missing_id: bool = False
) -> Any:
    """The message's own properties with `headers`; all but `user_id`, which RabbitMQ only
    accepts when it names the publishing user (it would close the channel). `keep_missing_id`
    puts a message back as it was: properties pamqp could not decode go back byte for byte."""
    if keep_missing_id and m.raw_properties is not None and "user_id" not in m.properties:
        return RawProperties(m.raw_properties, m.undecodable or "")
    props = {k: v for k, v in m.properties.items() if k != "user_id"}
    if props.get("delivery_mode") not in (None, 1, 2):
        props["delivery_mode"] = 2  # pamqp refuses to encode another value; 2 keeps it on disk
    cls = PropertiesWithoutId if keep_missing_id and not props.get("message_id") else None
    return (cls or spec.Basic.Properties)(headers=amqp_safe(headers), **props)


class Broker:
    """One AMQP connection for an operation, with the publisher channel it needs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: AbstractConnection | None = None
        self._pub: aiormq.Channel | None = None
        self._exists: dict[str, bool] = {}
        self._batch: list[Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._batching = True

    async def __aenter__(self) -> Broker:
        tolerate_undecodable_properties()  # a DLQ must be readable whatever it holds
        self.conn = await connect_first(
            self.url, client_properties={"connection_name": CONNECTION_NAME}
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()

    async def channel(self, confirms: bool = False) -> AbstractChannel:
        assert self.conn is not None
        return await self.conn.channel(publisher_confirms=confirms)

    async def depth(self, queue: str) -> int:
        """Ready messages in `queue`; DlqError if there is no such queue."""
        ch = await self.channel()
        try:
            ok = await ch.queue_declare(queue, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity as e:
            raise UsageError(f"no queue {queue!r} on this broker (vhost)") from e
        with contextlib.suppress(Exception):
            await ch.close()
        return int(ok.message_count or 0)

    async def exchange_exists(self, name: str) -> bool:
        if name == "":
            return True
        if name not in self._exists:
            ch = await self.channel()
            try:
                await ch.exchange_declare(name, passive=True)
                self._exists[name] = True
                await ch.close()
            except aiormq.exceptions.ChannelNotFoundEntity:
                self._exists[name] = False
        return self._exists[name]

    async def publish(self, exchange: str, routing_key: str, body: bytes, props: Any) -> None:
        """Publish (`mandatory`) and wait for the broker's confirm; raises if the message was
        returned (unroutable) or nacked. Publishes made in the same loop tick share one write."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._batch.append((exchange, routing_key, body, props, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        res = await done
        if not isinstance(res, spec.Basic.Ack):
            raise DlqError(f"broker refused the publish to {exchange!r}/{routing_key!r}")

    async def publish_many(
        self, items: list[tuple[str, str, bytes, Any]]
    ) -> list[BaseException | None]:
        """`publish` for many messages (exchange, routing key, body, properties) at once: for
        each, None once the broker confirmed it, or why it was not published."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Any]] = []
        for exchange, key, body, props in items:
            done: asyncio.Future[Any] = loop.create_future()
            self._batch.append((exchange, key, body, props, done))
            futures.append(done)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        if futures:
            await asyncio.wait(futures)
        return [_refusal(f, item[0], item[1]) for f, item in zip(futures, items, strict=True)]

    async def _channel_for_publishing(self) -> aiormq.Channel:
        if self._pub is None or self._pub.is_closed:
            self._pub = cast(aiormq.Channel, await self.channel(confirms=True))
        return self._pub

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let every publish of this tick join the batch
        while self._batch:
            batch, self._batch = self._batch[:1000], self._batch[1000:]
            try:
                ch = await self._channel_for_publishing()
                if self._batching and not batchable(ch):
                    self._batching = False  # aiormq changed inside: publish one by one
                if self._batching:
                    self._batch[:0] = await publish_batch(ch, batch)
                else:
                    for item in batch:
                        follow(
                            item[4],
                            ch.basic_publish(
                                item[2],
                                exchange=item[0],
                                routing_key=item[1],
                                properties=item[3],
                                mandatory=True,
                                wait=False,
                            ),
                        )
            except BaseException as e:
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                if isinstance(e, asyncio.CancelledError):
                    raise


def _refusal(done: asyncio.Future[Any], exchange: str, key: str) -> BaseException | None:
    if done.cancelled():
        return PublishCancelled("the publish was cancelled before its confirm arrived")
    e = done.exception()
    if e is not None:
        return e
    if isinstance(done.result(), spec.Basic.Ack):
        return None
    return DlqError(f"broker refused the publish to {exchange!r}/{key!r}")


PUBLISH_ERRORS = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    DlqError,
    PublishCancelled,
)


def _reason(e: BaseException) -> str:
    if isinstance(e, aiormq.exceptions.PublishError):
        return "unroutable: no queue is bound for it (message left in the DLQ)"
    return f"{type(e).__name__}: {e}"[:300]
