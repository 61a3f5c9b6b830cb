"""Many confirmed, `mandatory` publishes in one socket write, on an aiormq channel.

Publishing one by one costs a write and several frame objects per message, and the outbox
relay and the DLQ replay publish many at once. This does what `Channel.basic_publish` does
(delivery tag, confirmation future, return matching by message_id) for a whole batch, with one
write. It relies on aiormq internals (checked by `batchable`; the version is pinned),
and callers fall back to one-by-one publishing when they are missing.

Each message is encoded on its own before it takes a delivery tag: one the broker cannot take
(a property AMQP cannot encode) fails alone with `Unpublishable`, and the channel's numbering
stays the broker's, so later confirms still reach the right publishes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from pamqp import commands as spec
from pamqp import frame as amqp_frame

from shared.amqp_encode import content_header_frame
from shared.errors import Unpublishable

SHORTSTR_BYTES = 255
"""AMQP short strings (message_id, type, correlation_id, routing key) hold 255 bytes."""
TIMESTAMP_MAX = 2**64 - 1
"""An AMQP timestamp is an unsigned 64-bit count of seconds since 1970-01-01T00:00:00Z."""
# properties that mirror an envelope value which AMQP may not be able to hold: left out then
OPTIONAL_MIRRORS = ("type", "message_type", "correlation_id")


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


def representable(props: Mapping[str, Any]) -> dict[str, Any]:
    """`props` without the mirrored envelope values AMQP cannot hold: a `timestamp` before 1970
    or beyond 2**64-1 seconds, a `type` or `correlation_id` of more than 255 bytes in UTF-8.
    The body still carries them. `message_id` is never left out: an event whose id does not fit
    cannot be published (see `encode_publish`)."""
    out = dict(props)
    for name in OPTIONAL_MIRRORS:
        v = out.get(name)
        if isinstance(v, str) and not shortstr_fits(v):
            del out[name]
    if "timestamp" in out and not timestamp_fits(out["timestamp"]):
        del out["timestamp"]
    return out


def timestamp_fits(t: Any) -> bool:
    """Can `t` (a datetime, or seconds since 1970) be an AMQP timestamp? None is left alone."""
    if t is None:
        return True
    try:
        if isinstance(t, datetime):
            seconds = int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp())
        elif isinstance(t, int | float):
            seconds = int(t)
        else:
            return True  # not a time at all: the encoder says why
    except (OverflowError, ValueError, OSError):
        return False
    return 0 <= seconds <= TIMESTAMP_MAX


def shortstr_fits(s: str) -> bool:
    """Is `s` an AMQP short string: UTF-8 text of at most 255 bytes?"""
    if s.isascii():
        return len(s) <= SHORTSTR_BYTES
    try:
        return len(s.encode("utf-8")) <= SHORTSTR_BYTES
    except UnicodeEncodeError:  # a lone surrogate is not text AMQP (or UTF-8) can carry
        return False


def encode_head(channel: int, exchange: str, key: str, body_size: int, props: Any) -> bytes:
    """The Basic.Publish and content header frames of one message; Unpublishable when AMQP
    cannot encode them (a short string over 255 bytes, a timestamp out of range, a header value
    of a type AMQP has no field for)."""
    try:
        publish = spec.Basic.Publish(exchange=exchange, routing_key=key, mandatory=True)
        return amqp_frame.marshal(publish, channel) + content_header_frame(
            channel, body_size, props
        )
    except Exception as e:
        raise Unpublishable(
            f"the broker cannot take this message: {type(e).__name__}: {e} "
            f"(exchange {exchange[:100]!r}, routing key {key[:100]!r})"
        ) from e


def encode_publish(ch: Any, exchange: str, key: str, body: bytes, props: Any) -> bytes:
    """Every frame of one mandatory publish on channel `ch`, ready to write."""
    head = encode_head(ch.number, exchange, key, len(body), props)
    return head + b"".join(amqp_frame.marshal(f, ch.number) for f in ch._split_body(body))


async def publish_batch(ch: Any, batch: list[Pending]) -> list[Pending]:
    """Publish `batch` in one socket write; each future settles with the broker's Ack/Nack, the
    PublishError of a return, or Unpublishable for a message AMQP cannot encode (that one is
    not sent; the others are). Returns the messages deferred because one with the same
    message_id is still unconfirmed (aiormq matches a `basic.return` to its publish by
    message_id, so two of them in flight could be confused): publish those again."""
    from aiormq.abc import ChannelFrame

    parts: list[bytes] = []
    deferred: list[Pending] = []
    blockers: list[Any] = []
    taken: list[tuple[int, str | None, asyncio.Future[Any]]] = []
    in_flight: dict[str, int] = ch.message_id_delivery_tag
    async with ch.lock:
        try:
            for item in batch:
                exchange, key, body, props, done = item
                if done.done():  # its caller gave up on it
                    continue
                if props.message_id is None and not isinstance(props, PropertiesWithoutId):
                    props.message_id = uuid.uuid4().hex  # as basic_publish does: returns need one
                mid = props.message_id
                if mid is not None and mid in in_flight:
                    blocker = ch.confirmations.get(in_flight[mid])
                    if isinstance(blocker, asyncio.Future):
                        blockers.append(blocker)
                    deferred.append(item)
                    continue
                try:
                    data = encode_publish(ch, exchange, key, body, props)
                except Unpublishable as e:
                    done.set_exception(e)
                    continue
                ch.delivery_tag += 1
                tag = ch.delivery_tag
                confirmation = ch.create_future()
                ch.confirmations[tag] = confirmation
                taken.append((tag, mid, confirmation))
                if mid is not None:
                    in_flight[mid] = tag
                    confirmation.add_done_callback(_forget(in_flight, mid, tag))
                follow(done, confirmation)
                parts.append(data)
            if parts:
                frame = ChannelFrame(payload=b"".join(parts), should_close=False)
                await ch.write_queue.put(frame)
        except BaseException:
            _give_back(ch, taken)  # nothing was written: the broker never saw these tags
            raise
    if blockers:
        await asyncio.wait(blockers)
    elif deferred:
        await asyncio.sleep(0.005)  # its return is being processed: give the loop a turn
    return deferred


def _give_back(ch: Any, taken: list[tuple[int, str | None, asyncio.Future[Any]]]) -> None:
    """Undo the delivery tags of publishes that were never written, as basic_publish does."""
    for tag, mid, confirmation in reversed(taken):
        ch.confirmations.pop(tag, None)
        if mid is not None and ch.message_id_delivery_tag.get(mid) == tag:
            ch.message_id_delivery_tag.pop(mid)
        confirmation.cancel()
    ch.delivery_tag -= len(taken)


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
