"""AMQP connection and a confirmed, mandatory publisher: an unroutable or nacked publish raises."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractExchange, AbstractRobustChannel, AbstractRobustConnection
from aio_pika.exceptions import DeliveryError
from aiormq.exceptions import PublishError
from pamqp.commands import Basic

from shared import endpoints
from shared.amqp_batch import Pending, batchable, encode_head, publish_batch, representable
from shared.amqp_wire import tolerate_undecodable_properties
from shared.cloudevent import CloudEvent, amqp_properties
from shared.errors import PublishNacked, Unpublishable, UnroutableError
from shared.metrics import PUBLISHED


async def connect(url: str, name: str) -> AbstractRobustConnection:
    """A robust connection: it reconnects and restores channels and consumers by itself. `url`
    may be a comma list of endpoints (shared.endpoints): the connection then moves to the next
    node that answers when its node goes away. A message whose AMQP properties cannot be decoded
    arrives with lenient ones instead of closing the connection (shared.amqp_wire)."""
    tolerate_undecodable_properties()
    if "," in url:
        return await endpoints.connect_robust(endpoints.parse_endpoints(url), name=name)
    return await aio_pika.connect_robust(
        url, client_properties={"connection_name": name}, reconnect_interval=1.0
    )


@dataclass
class Outgoing:
    """One message for `Publisher.publish_many`."""

    exchange: str
    routing_key: str
    body: bytes
    properties: dict[str, Any] = field(default_factory=dict)
    type_label: str | None = None


class Publisher:
    """Publishes with publisher confirms and `mandatory`; one channel, safe for many tasks."""

    def __init__(self, connection: AbstractRobustConnection, service: str) -> None:
        self._connection = connection
        self._service = service
        self._channel: AbstractRobustChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._lock = asyncio.Lock()

    async def channel(self) -> AbstractRobustChannel:
        if self._channel is None or self._channel.is_closed:
            async with self._lock:
                if self._channel is None or self._channel.is_closed:
                    ch = await self._connection.channel(
                        publisher_confirms=True, on_return_raises=True
                    )
                    self._channel = ch
                    self._exchanges.clear()
        assert self._channel is not None
        return self._channel

    async def _exchange(self, name: str) -> AbstractExchange:
        ch = await self.channel()
        if name == "":
            return ch.default_exchange
        ex = self._exchanges.get(name)
        if ex is None:
            ex = await ch.get_exchange(name, ensure=False)
            self._exchanges[name] = ex
        return ex

    async def publish_event(
        self, exchange: str, event: CloudEvent, *, headers: dict[str, Any] | None = None
    ) -> None:
        await self.publish_raw(
            exchange,
            event.type,
            event.to_json_bytes(),
            amqp_properties(event),
            headers=headers,
            type_label=event.type,
        )

    async def publish_raw(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: dict[str, Any] | None = None,
        *,
        headers: dict[str, Any] | None = None,
        type_label: str | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; raise on return or nack, and Unpublishable
        (nothing sent) when AMQP cannot encode the message. Mirrored envelope values AMQP cannot
        hold are left out of the properties (`amqp_batch.representable`)."""
        label = type_label or routing_key
        try:
            msg = aio_pika.Message(body=body, headers=headers or {}, **_raw_properties(properties))
            encode_head(0, exchange, routing_key, len(body), msg.properties)
        except Exception as e:
            PUBLISHED.labels(self._service, label, "unpublishable").inc()
            if isinstance(e, Unpublishable):
                raise
            raise Unpublishable(f"the broker cannot take this message: {e!r}") from e
        ex = await self._exchange(exchange)
        try:
            confirm = await ex.publish(msg, routing_key=routing_key, mandatory=True)
        except DeliveryError as e:
            if isinstance(e.frame, Basic.Return):
                PUBLISHED.labels(self._service, label, "unroutable").inc()
                raise UnroutableError(
                    f"no queue bound for {routing_key!r} on exchange {exchange!r}"
                ) from e
            PUBLISHED.labels(self._service, label, "nacked").inc()
            raise PublishNacked(f"broker refused publish to {exchange!r}/{routing_key!r}") from e
        if isinstance(confirm, Basic.Nack):
            PUBLISHED.labels(self._service, label, "nacked").inc()
            raise PublishNacked(f"broker refused publish to {exchange!r}/{routing_key!r}")
        PUBLISHED.labels(self._service, label, "confirmed").inc()

    async def publish_many(self, items: Sequence[Outgoing]) -> list[BaseException | None]:
        """Publish all of `items` in one socket write and wait for every confirm. Returns, per
        item, None when confirmed, UnroutableError when returned, PublishNacked when refused, or
        the error that stopped it (a closed channel). Order on the wire is the order given."""
        if not items:
            return []
        ch = await self.channel()
        raw = await ch.get_underlay_channel()
        if not batchable(raw):  # aiormq changed inside: one by one, still confirmed
            return list(
                await asyncio.gather(*(self._one(i) for i in items), return_exceptions=True)
            )
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Any]] = []
        pending: list[Pending] = []
        for it in items:
            fut: asyncio.Future[Any] = loop.create_future()
            futures.append(fut)
            try:
                props = _properties(it.properties)
            except Exception as e:  # this one cannot go; the others still do
                fut.set_exception(Unpublishable(f"invalid AMQP properties: {e!r}"))
                continue
            pending.append((it.exchange, it.routing_key, it.body, props, fut))
        while pending:
            pending = await publish_batch(raw, pending)
        answers = await asyncio.gather(*futures, return_exceptions=True)
        return [self._outcome(it, a) for it, a in zip(items, answers, strict=True)]

    async def _one(self, it: Outgoing) -> None:
        await self.publish_raw(
            it.exchange, it.routing_key, it.body, it.properties, type_label=it.type_label
        )

    def _outcome(self, it: Outgoing, answer: Any) -> BaseException | None:
        label = it.type_label or it.routing_key
        where = f"{it.exchange!r}/{it.routing_key!r}"
        if isinstance(answer, Basic.Ack):
            PUBLISHED.labels(self._service, label, "confirmed").inc()
            return None
        if isinstance(answer, PublishError) and isinstance(answer.frame, Basic.Return):
            PUBLISHED.labels(self._service, label, "unroutable").inc()
            return UnroutableError(
                f"no queue bound for {it.routing_key!r} on exchange {it.exchange!r}"
            )
        if isinstance(answer, Basic.Nack):
            PUBLISHED.labels(self._service, label, "nacked").inc()
            return PublishNacked(f"broker refused publish to {where}")
        if isinstance(answer, Unpublishable):
            PUBLISHED.labels(self._service, label, "unpublishable").inc()
            return answer
        if isinstance(answer, BaseException):
            return answer
        return PublishNacked(f"unexpected answer to the publish to {where}: {answer!r}")

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()


def _raw_properties(props: dict[str, Any] | None) -> dict[str, Any]:
    """Persistent and timestamped unless told otherwise; a value AMQP cannot hold is left out
    (a timestamp given but out of range is not replaced by the current time)."""
    given = {k: v for k, v in (props or {}).items() if v is not None}
    p = representable(given)
    p.setdefault("delivery_mode", 2)
    if "timestamp" not in given:
        p["timestamp"] = datetime.now(UTC)
    return p


def _properties(props: dict[str, Any]) -> Basic.Properties:
    """AMQP properties for a batch publish, by the rules of `_raw_properties`."""
    p = _raw_properties(props)
    return Basic.Properties(**{("message_type" if k == "type" else k): v for k, v in p.items()})
