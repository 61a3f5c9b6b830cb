"""Many confirmed, `mandatory` publishes in one socket write, on an aiormq channel.

Publishing one by one costs a write and several frame objects per message; for the outbox
relay and the DLQ replay that was the largest cost. This does what `Channel.basic_publish`
does (delivery tag, confirmation future, return matching by message_id) for a whole batch,
with one write. It relies on aiormq internals (checked by `batchable`; the version is pinned),
and callers fall back to one-by-one publishing when they are missing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from pamqp import commands as spec


class PublishCancelled(Exception):
    """The publish was cancelled before its confirm arrived (the channel closed)."""


class PropertiesWithoutId(spec.Basic.Properties):
    """aiormq invents a message_id for publishes without one; a restore must not add it."""

    @property
    def message_id(self) -> str | None:
        return None

    @message_id.setter
    def message_id(self, value: str | None) -> None:
        del value


# (exchange, routing key, body, properties, future settled with the broker's answer)
Pending = tuple[str, str, bytes, Any, "asyncio.Future[Any]"]


async def publish_batch(ch: Any, batch: list[Pending]) -> list[Pending]:
    """Publish `batch` in one socket write; each future settles with the broker's Ack/Nack or
    the PublishError of a return. Returns the messages deferred because one with the same
    message_id is still unconfirmed (aiormq matches a `basic.return` to its publish by
    message_id, so two of them in flight could be confused): publish those again."""
    from aiormq.abc import ChannelFrame
    from pamqp.header import ContentHeader

    frames: list[Any] = []
    deferred: list[Pending] = []
    blockers: list[Any] = []
    in_flight: dict[str, int] = ch.message_id_delivery_tag
    async with ch.lock:
        for item in batch:
            exchange, key, body, props, done = item
            if props.message_id is None and not isinstance(props, PropertiesWithoutId):
                props.message_id = uuid.uuid4().hex  # as basic_publish does: returns need one
            mid = props.message_id
            if mid is not None and mid in in_flight:
                blocker = ch.confirmations.get(in_flight[mid])
                if isinstance(blocker, asyncio.Future):
                    blockers.append(blocker)
                deferred.append(item)
                continue
            ch.delivery_tag += 1
            tag = ch.delivery_tag
            confirmation = ch.create_future()
            ch.confirmations[tag] = confirmation
            if mid is not None:
                in_flight[mid] = tag
                confirmation.add_done_callback(_forget(in_flight, mid, tag))
            follow(done, confirmation)
            frames.append(spec.Basic.Publish(exchange=exchange, routing_key=key, mandatory=True))
            frames.append(ContentHeader(properties=props, body_size=len(body)))
            frames.extend(ch._split_body(body))
        if frames:
            await ch.write_queue.put(ChannelFrame.marshall(channel_number=ch.number, frames=frames))
    if blockers:
        await asyncio.wait(blockers)
    elif deferred:
        await asyncio.sleep(0.005)  # its return is being processed: give the loop a turn
    return deferred


def batchable(ch: Any) -> bool:
    """Does this aiormq channel still have the parts `publish_batch` relies on?"""
    names = "lock confirmations delivery_tag create_future _split_body write_queue number"
    return all(hasattr(ch, n) for n in (*names.split(), "message_id_delivery_tag"))


def _forget(in_flight: dict[str, int], mid: str, tag: int) -> Callable[[Any], None]:
    def forget(_: Any) -> None:
        if in_flight.get(mid) == tag:
            in_flight.pop(mid)

    return forget


def follow(target: asyncio.Future[Any], source: Awaitable[Any]) -> None:
    """Settle `target` as `source` settles."""
    src = asyncio.ensure_future(source)

    def copy(f: asyncio.Future[Any]) -> None:
        if target.done():
            return
        if f.cancelled():
            target.set_exception(PublishCancelled("publish cancelled (channel closed?)"))
        elif f.exception() is not None:
            target.set_exception(cast(BaseException, f.exception()))
        else:
            target.set_result(f.result())

    src.add_done_callback(copy)
