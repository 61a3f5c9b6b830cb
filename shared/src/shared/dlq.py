"""Dead-letter operations for on-call staff: list, show, replay, archive, purge, restore, export.

Reading never consumes: one channel takes messages unacknowledged and hands them back with
`basic.nack(requeue)` in delivery order, so they stay in place and in order. Replay, purge and
restore write first (a confirmed, `mandatory` publish; an archive insert) and only then ack, so a
crash in between duplicates at worst (the inbox dedupes by CloudEvent id) and never loses.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fnmatch
import functools
import getpass
import hashlib
import json
import os
import re
import socket
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO, cast
from urllib.parse import unquote, urlsplit

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from pamqp import commands as spec

from shared import failures as F
from shared.amqp_batch import (
    Pending,
    PropertiesWithoutId,
    PublishCancelled,
    batchable,
    follow,
    publish_batch,
)
from shared.logging import get_logger
from shared.settings import ServiceSettings
from shared.topology import UNROUTED, dlq, main_queue

log = get_logger("shared.dlq")

ARCHIVE = "dlq_archive"
AUDIT = "dlq_audit"
H_PREV_ATTEMPTS = "previous-attempts"
BROKER_COUNTERS = ("x-delivery-count", "x-acquired-count")  # set by the queue, never restored
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
    "user_id",
    "app_id",
)


class DlqSettings(ServiceSettings):
    """Settings of the dlq tools: the services' AMQP_URL/MONGODB_URL plus `DISTSYNC_DLQ_*`."""

    admin_db: str = "distsync_admin"
    dlq_flag_replays: int = 3  # replayed this often: flagged, and replay needs --force
    dlq_window: int = 60_000  # messages one scan may hold unacknowledged (prefetch, <= 65535)
    dlq_inflight: int = 500  # unconfirmed publishes in flight during replay/restore
    dlq_renew_at: int = 10  # returned this often: re-published fresh (see `Scan.keep`)
    dlq_idle_s: float = 3.0  # a scan ends when the queue delivers nothing for this long
    dlq_lock_wait_s: float = 15.0  # wait this long for another dlq command on the same queue
    dlq_api_token: str | None = None  # `distsync dlq serve` requires it as a bearer token


class DlqError(Exception):
    """An operation could not run (unknown queue, audit log unreachable, bad archive)."""


class NothingToDo(DlqError):
    """Nothing matched, or the archive was already restored."""


class QueueBusy(DlqError):
    """Another dlq command holds the queue's lock."""


class UsageError(DlqError):
    """The request itself is wrong: an unknown queue, options that contradict each other."""


# --- values that survive JSON and MongoDB exactly ------------------------------------------------


def to_jsonable(v: Any) -> Any:
    """AMQP field values as JSON; bytes, timestamps and decimals are tagged so they come back."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, datetime):
        return {"__datetime__": v.isoformat()}
    if isinstance(v, Decimal):
        return {"__decimal__": str(v)}
    if isinstance(v, dict):
        return {str(k): to_jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_jsonable(x) for x in v]
    return str(v)


def from_jsonable(v: Any) -> Any:
    """The inverse of `to_jsonable`, in the types pamqp encodes (bytes come back as bytearray)."""
    if isinstance(v, dict):
        if len(v) == 1:
            ((k, x),) = v.items()
            if k == "__bytes__":
                return bytearray(base64.b64decode(x))
            if k == "__datetime__":
                return datetime.fromisoformat(x)
            if k == "__decimal__":
                return Decimal(x)
        return {k: from_jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_jsonable(x) for x in v]
    return v


def amqp_safe(v: Any) -> Any:
    """pamqp decodes a non-UTF-8 long string as bytes but only encodes bytearray."""
    if isinstance(v, dict) and not any(isinstance(x, (bytes, dict, list)) for x in v.values()):
        return v  # the usual case, and a hot path during replay
    if isinstance(v, bytes):
        return bytearray(v)
    if isinstance(v, dict):
        return {k: amqp_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [amqp_safe(x) for x in v]
    return v


def iso(t: datetime | None) -> str | None:
    return F._iso(t) if t is not None else None


def parse_time(value: str, *, now: datetime | None = None) -> datetime:
    """ISO 8601 (`2026-11-27T03:00Z`, a date) or an age like `90s`, `15m`, `2h`, `3d` (ago)."""
    now = now or datetime.now(UTC)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", value)
    if m:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
        return now - timedelta(seconds=float(m.group(1)) * unit)
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError(f"not a time: {value!r} (use ISO 8601 or an age like 2h)") from e
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _header_time(v: Any) -> datetime | None:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, (str, bytes, bytearray)):
        with contextlib.suppress(ValueError):
            return parse_time(v.decode() if isinstance(v, (bytes, bytearray)) else v)
    return None


def _int(v: Any) -> int:
    try:
        return int(v) if isinstance(v, (int, float, str)) else 0
    except ValueError:
        return 0


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode(errors="replace")
    return str(v)


# --- one dead-lettered message ----------------------------------------------------------------


@dataclass
class DeadLetter:
    """A message in a DLQ (or in `unrouted`), with what its headers say about its failure."""

    queue: str
    body: bytes
    properties: dict[str, Any]
    headers: dict[str, Any]
    exchange: str = ""
    routing_key: str = ""
    position: int = 0

    @functools.cached_property
    def event(self) -> dict[str, Any] | None:
        """The body as a JSON object (a CloudEvent, usually), or None."""
        try:
            raw = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None
        return raw if isinstance(raw, dict) else None

    @classmethod
    def from_delivery(cls, queue: str, position: int, dm: DeliveredMessage) -> DeadLetter:
        p = dm.header.properties
        props = {n: getattr(p, n) for n in PROPERTY_NAMES if getattr(p, n, None) is not None}
        return cls(
            queue=queue,
            body=dm.body,
            properties=props,
            headers=dict(p.headers or {}),
            exchange=dm.exchange or "",
            routing_key=dm.routing_key or "",
            position=position,
        )

    @property
    def service(self) -> str:
        own = self.queue[: -len(".dlq")] if self.queue.endswith(".dlq") else self.queue
        return _text(self.headers.get(F.H_SERVICE)) or own

    @property
    def event_id(self) -> str | None:
        if self.event is not None and isinstance(self.event.get("id"), str):
            return str(self.event["id"])
        return _text(self.properties.get("message_id"))

    @property
    def event_type(self) -> str:
        t = _text(self.headers.get(F.H_TYPE))
        if not t and self.event is not None and isinstance(self.event.get("type"), str):
            t = str(self.event["type"])
        return t or _text(self.properties.get("message_type")) or "unknown"

    def _death(self) -> dict[str, Any]:
        deaths = self.headers.get("x-death")
        if isinstance(deaths, list) and deaths and isinstance(deaths[-1], dict):
            return deaths[-1]  # the oldest death is last
        return {}

    @property
    def exception_type(self) -> str:
        exc = _text(self.headers.get(F.H_EXC_TYPE))
        if exc:
            return exc
        reason = _text(self.headers.get("x-first-death-reason"))
        if reason:
            return f"broker:{reason}"  # dead-lettered by the broker (delivery limit, expiry)
        return "Unrouted" if self.queue == UNROUTED else "unknown"

    @property
    def original_exchange(self) -> str:
        h = _text(self.headers.get(F.H_ORIG_EXCHANGE))
        if h is not None:
            return h
        x = _text(self.headers.get("x-first-death-exchange")) or _text(
            self._death().get("exchange")
        )
        return x if x is not None else self.exchange

    @property
    def original_routing_key(self) -> str:
        h = _text(self.headers.get(F.H_ORIG_KEY))
        if h:
            return h
        keys = self._death().get("routing-keys")
        if isinstance(keys, list) and keys:
            return _text(keys[0]) or ""
        return self.routing_key

    @property
    def first_failure(self) -> datetime | None:
        return _header_time(self.headers.get(F.H_FIRST)) or self.last_failure

    @property
    def last_failure(self) -> datetime | None:
        t = _header_time(self.headers.get(F.H_LAST)) or _header_time(self._death().get("time"))
        return t or _header_time(self.properties.get("timestamp"))

    @property
    def attempts(self) -> int:
        return F.attempts_of(self.headers)

    @property
    def replay_count(self) -> int:
        return _int(self.headers.get(F.H_REPLAY_COUNT))

    @property
    def returns(self) -> int:
        """How often the queue handed this message out and got it back (poison-message count)."""
        return max(_int(self.headers.get(h)) for h in BROKER_COUNTERS)

    @property
    def group_key(self) -> str:
        return f"{self.exception_type}|{self.event_type}|{self.service}"

    @property
    def group(self) -> str:
        return group_id(self.exception_type, self.event_type, self.service)

    def flagged(self, threshold: int) -> bool:
        return self.replay_count >= threshold

    def record(self, **extra: Any) -> dict[str, Any]:
        """The archive/export form: exact body (base64), properties and headers, plus context."""
        out: dict[str, Any] = dict(extra)
        out.update(
            queue=self.queue,
            service=self.service,
            group=self.group,
            event_id=self.event_id,
            event_type=self.event_type,
            exception_type=self.exception_type,
            exchange=self.exchange,
            routing_key=self.routing_key,
            body_b64=base64.b64encode(self.body).decode(),
            properties=to_jsonable(self.properties),
            headers=to_jsonable(self.headers),
            event=self.event,
        )
        return out

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> DeadLetter:
        body = r["body"] if "body" in r else base64.b64decode(r["body_b64"])
        props, headers = r["properties"], r["headers"]
        if isinstance(props, str):  # MongoDB keeps them as JSON text (any key is allowed)
            props, headers = json.loads(props), json.loads(headers)
        return cls(
            queue=r["queue"],
            body=bytes(body),
            properties=from_jsonable(props),
            headers=from_jsonable(headers),
            exchange=r.get("exchange") or "",
            routing_key=r.get("routing_key") or "",
        )

    def summary(self, threshold: int) -> dict[str, Any]:
        """What `show` prints: identity, failure headers, counts, the CloudEvent."""
        names = (*F.FAILURE_HEADERS, F.H_REPLAY_COUNT, F.H_REPLAYED_BY, F.H_REPLAYED_AT)
        failure = {k: self.headers[k] for k in (*names, H_PREV_ATTEMPTS) if k in self.headers}
        return {
            "position": self.position,
            "queue": self.queue,
            "id": self.event_id,
            "type": self.event_type,
            "group": self.group,
            "exception_type": self.exception_type,
            "exception_message": _text(self.headers.get(F.H_EXC_MSG)),
            "attempts": self.attempts,
            "first_failure": iso(self.first_failure),
            "last_failure": iso(self.last_failure),
            "replay_count": self.replay_count,
            "flagged": self.flagged(threshold),
            "original_exchange": self.original_exchange,
            "original_routing_key": self.original_routing_key,
            "headers": to_jsonable(failure),
            "event": self.event,
            "body": None if self.event is not None else self.body[:2000].decode(errors="replace"),
        }


def group_id(exception_type: str, event_type: str, service: str) -> str:
    """A short, stable name for a failure group that an operator can type."""
    digest = hashlib.sha1(f"{exception_type}|{event_type}|{service}".encode()).hexdigest()
    return "g" + digest[:7]


# --- which messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    """Which messages an operation acts on; empty means all of them."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()  # exact or glob (`order.*`)
    groups: tuple[str, ...] = ()  # group id (`g1a2b3c4`) or key `Exception|type|service`
    since: datetime | None = None  # last failure at or after
    until: datetime | None = None  # last failure before
    limit: int | None = None  # at most this many (in queue order)

    @property
    def is_all(self) -> bool:
        return not (self.ids or self.types or self.groups or self.since or self.until)

    def matches(self, m: DeadLetter) -> bool:
        if (
            self.ids
            and m.event_id not in self.ids
            and m.properties.get("message_id") not in self.ids
        ):
            return False
        if self.types and not any(fnmatch.fnmatchcase(m.event_type, t) for t in self.types):
            return False
        if self.groups and m.group not in self.groups and m.group_key not in self.groups:
            return False
        if self.since or self.until:
            t = m.last_failure
            if t is None or (self.since and t < self.since) or (self.until and t >= self.until):
                return False
        return True

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for k in ("ids", "types", "groups"):
            if getattr(self, k):
                d[k] = list(getattr(self, k))
        if self.since:
            d["since"] = iso(self.since)
        if self.until:
            d["until"] = iso(self.until)
        if self.limit is not None:
            d["limit"] = self.limit
        return d or {"all": True}


def queue_of(target: str) -> str:
    """`availability` -> `availability.dlq`; `unrouted` stays; a full queue name is kept."""
    if target == UNROUTED or target.endswith(".dlq"):
        return target
    return dlq(target)


def known_targets() -> list[str]:
    from shared.topology import all_services

    return [s.name for s in all_services()] + [UNROUTED]


def who(user: str | None = None) -> str:
    if user:
        return user
    with contextlib.suppress(Exception):
        return os.environ.get("USER") or getpass.getuser()
    return "unknown"


# --- talking to the broker --------------------------------------------------------------------


def same_headers(m: DeadLetter) -> dict[str, Any]:
    """The headers to put the message back into its queue with: all of them (the queue's own
    delivery counters aside), plus where it was first published if only the delivery said so
    (`unrouted`, broker dead-lettering): going back in through the default exchange loses that."""
    h = {k: v for k, v in m.headers.items() if k not in BROKER_COUNTERS}
    if F.H_ORIG_EXCHANGE not in h and (m.exchange, m.routing_key) != ("", m.queue):
        h[F.H_ORIG_EXCHANGE] = m.original_exchange
        h[F.H_ORIG_KEY] = m.original_routing_key
    return h


def amqp_properties(
    m: DeadLetter, headers: dict[str, Any], *, keep_missing_id: bool = False
) -> Any:
    """The message's own properties with `headers`; all but `user_id`, which RabbitMQ only
    accepts when it names the publishing user (it would close the channel)."""
    props = {k: v for k, v in m.properties.items() if k != "user_id"}
    cls = PropertiesWithoutId if keep_missing_id and not props.get("message_id") else None
    return (cls or spec.Basic.Properties)(headers=amqp_safe(headers), **props)


class Broker:
    """One AMQP connection for an operation, with the publisher channel it needs."""

    def __init__(self, url: str, name: str = "distsync-dlq") -> None:
        self.url = url
        self.name = name  # the connection name the management UI shows
        self.conn: AbstractConnection | None = None
        self._pub: aiormq.Channel | None = None
        self._exists: dict[str, bool] = {}
        self._batch: list[Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._batching = True

    async def __aenter__(self) -> Broker:
        self.conn = await aiormq.connect(self.url, client_properties={"connection_name": self.name})
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

    @property
    def username(self) -> str:
        return unquote(urlsplit(self.url).username or "guest")


PUBLISH_ERRORS = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    DlqError,
    PublishCancelled,
)


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

    async def open(self) -> Scan:
        await self.broker.depth(self.queue)  # exists?
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
        name = f"distsync.dlq-lock.{self.queue}"
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
                    "", self.queue, m.body, amqp_properties(m, headers, keep_missing_id=True)
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
        if self._ch is None or self.broken is not None:
            raise DlqError("the scan is closed")
        self._ready.add(item.tag)
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

    async def close(self, *, requeue: bool = True) -> None:
        """Stop reading and give back every message not acked, in order."""
        try:
            await self._give_back(requeue)
        finally:
            await self._release_lock()

    async def _give_back(self, requeue: bool) -> None:
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
            if requeue and any(renewal_due(x.message, self.settings) for x in held):
                await self.renew(held)
            if self._unsettled and requeue and not ch.is_closed:
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


# --- results and the audit log ----------------------------------------------------------------


@dataclass
class Outcome:
    """What an operation did; the CLI and the HTTP API print it, the audit log keeps it."""

    action: str
    queue: str
    selector: dict[str, Any]
    user: str
    dry_run: bool = False
    scanned: int = 0
    depth: int = 0
    matched: int = 0
    done: int = 0
    skipped_flagged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    plan: Counter[str] = field(default_factory=Counter)
    archive_id: str | None = None
    file: str | None = None
    target: str | None = None
    cancelled: bool = False
    renewed: int = 0
    started: float = field(default_factory=time.monotonic)
    elapsed_s: float = 0.0

    def error(self, text: str) -> None:
        self.failed += 1
        if len(self.errors) < 20:
            self.errors.append(text)

    @property
    def rate(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("started", "plan")}
        d["plan"] = dict(self.plan)
        d["rate_per_s"] = round(self.rate, 1)
        d["elapsed_s"] = round(self.elapsed_s, 3)
        return d


class Admin:
    """The `distsync_admin` database: archive and audit log."""

    def __init__(self, settings: DlqSettings, client: Any = None) -> None:
        from pymongo import AsyncMongoClient  # as shared.runtime does, without its web stack

        self.client = client or AsyncMongoClient(
            settings.mongodb_url,
            tz_aware=True,
            serverSelectionTimeoutMS=5000,
            connectTimeoutMS=5000,
            uuidRepresentation="standard",
        )
        self._owns = client is None
        self._indexed = False
        self.db = self.client[settings.admin_db]

    async def close(self) -> None:
        if self._owns:
            await self.client.close()

    async def audit_start(self, o: Outcome) -> str:
        audit_id = uuid.uuid4().hex
        try:
            await self.db[AUDIT].insert_one(
                {
                    "_id": audit_id,
                    "action": o.action,
                    "status": "running",
                    "user": o.user,
                    "host": socket.gethostname(),
                    "queue": o.queue,
                    "selector": o.selector,
                    "target": o.target,
                    "archive_id": o.archive_id,
                    "started_at": datetime.now(UTC),
                }
            )
        except Exception as e:
            raise DlqError(f"audit log unreachable, nothing done ({MONGO_HINT}): {e}") from e
        return audit_id

    async def audit_finish(self, audit_id: str, o: Outcome, status: str) -> None:
        d = o.as_dict()
        fields = ("matched", "done", "failed", "skipped_flagged", "scanned", "errors", "file")
        update = {k: d[k] for k in fields} | {"archive_id": o.archive_id, "cancelled": o.cancelled}
        update |= {"status": status, "finished_at": datetime.now(UTC), "elapsed_s": d["elapsed_s"]}
        try:
            await asyncio.shield(self.db[AUDIT].update_one({"_id": audit_id}, {"$set": update}))
        except Exception as e:
            log.error("dlq_audit_write_failed", audit_id=audit_id, error=repr(e)[:300])
        log.info(
            "dlq_operation_finished",
            action=o.action,
            audit_id=audit_id,
            status=status,
            user=o.user,
            queue=o.queue,
            selector=o.selector,
            matched=o.matched,
            done=o.done,
            failed=o.failed,
        )

    async def audit_entries(
        self, limit: int = 20, queue: str | None = None
    ) -> list[dict[str, Any]]:
        q = {"queue": queue} if queue else {}
        cur = self.db[AUDIT].find(q).sort("started_at", -1).limit(limit)
        return [d async for d in cur]

    async def insert_archive(self, docs: list[dict[str, Any]]) -> None:
        await self._indexes()
        await self.db[ARCHIVE].insert_many(docs, ordered=True)

    async def _indexes(self) -> None:
        if not self._indexed:
            await self.db[ARCHIVE].create_index([("archive_id", 1), ("seq", 1)])
            await self.db[AUDIT].create_index([("queue", 1), ("started_at", -1)])
            self._indexed = True

    async def archive_docs(self, archive_id: str) -> list[dict[str, Any]]:
        cur = self.db[ARCHIVE].find({"archive_id": archive_id}).sort("seq", 1)
        return [d async for d in cur]

    async def mark_restored(self, ids: list[str]) -> None:
        now = datetime.now(UTC)
        await self.db[ARCHIVE].update_many({"_id": {"$in": ids}}, {"$set": {"restored_at": now}})

    async def restored_before(self, archive_id: str) -> bool:
        q = {"action": "restore", "archive_id": archive_id, "status": "done"}
        return await self.db[AUDIT].count_documents(q, limit=1) > 0


MONGO_HINT = "MONGODB_URL, database distsync_admin"


@contextlib.asynccontextmanager
async def audited(admin: Admin, o: Outcome) -> AsyncIterator[None]:
    """Record the operation before it starts and how it ended (also when cancelled)."""
    audit_id = await admin.audit_start(o)
    status = "failed"
    try:
        yield
        status = "done" if not o.failed else "partial"
    except asyncio.CancelledError:
        o.cancelled, status = True, "cancelled"
        raise
    finally:
        o.elapsed_s = time.monotonic() - o.started
        await admin.audit_finish(audit_id, o, status)


# --- list / show / export ---------------------------------------------------------------------


@dataclass
class Group:
    id: str
    exception_type: str
    event_type: str
    service: str
    count: int = 0
    flagged: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    example: str | None = None

    def add(self, m: DeadLetter, threshold: int) -> None:
        self.count += 1
        self.flagged += m.flagged(threshold)
        t = m.last_failure
        if t is not None:
            self.oldest = t if self.oldest is None else min(self.oldest, t)
            self.newest = t if self.newest is None else max(self.newest, t)
        self.example = self.example or _text(m.headers.get(F.H_EXC_MSG))

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "oldest": iso(self.oldest), "newest": iso(self.newest)}


@dataclass
class QueueSummary:
    target: str
    queue: str
    depth: int
    scanned: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    flagged: int = 0
    groups: list[Group] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {**self.__dict__, "oldest": iso(self.oldest), "newest": iso(self.newest)}
        d["groups"] = [g.as_dict() for g in self.groups]
        return d


def summarize(
    target: str, queue: str, depth: int, msgs: Iterable[DeadLetter], flag: int
) -> QueueSummary:
    s = QueueSummary(target, queue, depth)
    groups: dict[str, Group] = {}
    for m in msgs:
        s.scanned += 1
        g = groups.get(m.group)
        if g is None:
            g = groups[m.group] = Group(m.group, m.exception_type, m.event_type, m.service)
        g.add(m, flag)
        s.flagged += m.flagged(flag)
        first, last = m.first_failure, m.last_failure
        if first is not None:
            s.oldest = first if s.oldest is None else min(s.oldest, first)
        if last is not None:
            s.newest = last if s.newest is None else max(s.newest, last)
    s.groups = sorted(groups.values(), key=lambda g: (-g.count, g.id))
    return s


async def peek(
    broker: Broker,
    queue: str,
    settings: DlqSettings,
    *,
    limit: int | None = None,
    selector: Selector | None = None,
) -> list[DeadLetter]:
    """The first `limit` messages (matching `selector`), left in place and in order."""
    out: list[DeadLetter] = []
    async with scanning(broker, queue, settings, keep_all=True) as scan:
        async for item in scan:
            await scan.keep(item)
            if limit is not None and len(out) >= limit:
                continue  # keep walking: only a whole walk leaves the order as it was
            if selector is None or selector.matches(item.message):
                out.append(item.message)
    return out


async def head(
    broker: Broker, queue: str, settings: DlqSettings, *, in_place: bool
) -> DeadLetter | None:
    """The queue's first message, left in place and in order; None if the queue is empty.

    `in_place`: the broker gives a returned message back at the head (RabbitMQ 4.x quorum
    queues, or any quorum queue with a delivery limit), so reading the head alone keeps the
    order. Otherwise (3.x quorum queues without a delivery limit requeue at the tail), and when
    the head is due for renewal (renewing it alone would move it behind the others), the whole
    queue is walked as `peek` does, which renews every message in order. The head has been
    handed out at least as often as any message behind it, so its count is the one to watch."""
    if in_place:
        async with scanning(broker, queue, settings, limit=1, keep_all=True) as scan:
            async for item in scan:
                if not renewal_due(item.message, settings):
                    return item.message  # not kept: handed back, never renewed, at close
                break
            else:
                return None
    msgs = await peek(broker, queue, settings, limit=1)
    return msgs[0] if msgs else None


async def list_queues(settings: DlqSettings, targets: Iterable[str]) -> list[QueueSummary]:
    """Depth, oldest and newest failure and failure groups, for each target's queue."""
    out: list[QueueSummary] = []
    async with Broker(settings.amqp_url) as broker:
        for target in targets:
            queue = queue_of(target)
            try:
                depth = await broker.depth(queue)
                msgs = await peek(broker, queue, settings) if depth else []
            except DlqError as e:
                out.append(QueueSummary(target, queue, 0, error=str(e)))
                continue
            out.append(summarize(target, queue, depth, msgs, settings.dlq_flag_replays))
    return out


async def show(
    settings: DlqSettings, target: str, *, limit: int = 20, selector: Selector | None = None
) -> list[DeadLetter]:
    async with Broker(settings.amqp_url) as broker:
        return await peek(broker, queue_of(target), settings, limit=limit, selector=selector)


async def export(settings: DlqSettings, target: str, selector: Selector, out: TextIO) -> Outcome:
    """Write the selected messages as JSONL (the archive format), leaving them in place."""
    o = Outcome("export", queue_of(target), selector.describe(), who())
    async with Broker(settings.amqp_url) as broker:
        o.depth = await broker.depth(o.queue)
        for m in await peek(broker, o.queue, settings, limit=selector.limit, selector=selector):
            out.write(json.dumps(m.record(exported_at=iso(datetime.now(UTC))), default=str) + "\n")
            o.matched += 1
            o.done += 1
        o.scanned = o.depth
    out.flush()
    o.elapsed_s = time.monotonic() - o.started
    return o


# --- replay -----------------------------------------------------------------------------------


def replay_headers(m: DeadLetter, user: str, now: datetime) -> dict[str, Any]:
    """Keep the failure history; count the replay; give the message its retries back."""
    h = {k: v for k, v in m.headers.items() if not str(k).startswith("x-")}
    h.setdefault(F.H_ORIG_EXCHANGE, m.original_exchange)
    h.setdefault(F.H_ORIG_KEY, m.original_routing_key)
    h[H_PREV_ATTEMPTS] = _int(h.get(H_PREV_ATTEMPTS)) + m.attempts
    h[F.H_ATTEMPTS] = 0
    h[F.H_REPLAY_COUNT] = m.replay_count + 1
    h[F.H_REPLAYED_BY] = user
    h[F.H_REPLAYED_AT] = F._iso(now)
    return h


class RateLimiter:
    """At most `rate` starts per second, evenly spaced: no burst after a stall."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next: float | None = None

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        start = now if self._next is None else max(self._next, now)
        if start > now:
            await asyncio.sleep(start - now)
        self._next = start + self.interval


Progress = Callable[[Outcome], None]
Hook = Callable[[DeadLetter], Awaitable[None]]


@dataclass
class ReplayOptions:
    to: str | None = None  # another exchange (routing key unchanged)
    direct: bool = False  # straight to `<service>.main` (only that service sees it again)
    rate: float | None = None
    dry_run: bool = False
    force: bool = False  # replay flagged messages too
    after_publish: Hook | None = None  # test hook: a crash between publish and ack


def replay_target(m: DeadLetter, opts: ReplayOptions) -> tuple[str, str]:
    if opts.direct:
        return "", main_queue(m.service)
    return (opts.to if opts.to is not None else m.original_exchange), m.original_routing_key


async def replay(
    settings: DlqSettings,
    target: str,
    selector: Selector,
    opts: ReplayOptions,
    *,
    user: str | None = None,
    admin: Admin | None = None,
    progress: Progress | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Publish the selected messages back (confirmed, mandatory), then ack them from the DLQ."""
    o = outcome or Outcome("replay", "", {}, "")
    o.action, o.queue, o.selector, o.user = (
        "replay",
        queue_of(target),
        selector.describe(),
        who(user),
    )
    o.dry_run, o.target = opts.dry_run, "direct" if opts.direct else opts.to
    o.started = time.monotonic()
    if opts.direct and o.queue == UNROUTED:
        raise UsageError("--direct needs a service DLQ: unrouted messages have no service queue")
    adm = admin or (None if opts.dry_run else Admin(settings))
    try:
        async with Broker(settings.amqp_url) as broker:
            if adm is None:
                await _replay(broker, settings, selector, opts, o, progress)
            else:
                async with audited(adm, o):
                    await _replay(broker, settings, selector, opts, o, progress)
    finally:
        o.elapsed_s = time.monotonic() - o.started
        if admin is None and adm is not None:
            await adm.close()
    return o


async def _replay(
    broker: Broker,
    settings: DlqSettings,
    selector: Selector,
    opts: ReplayOptions,
    o: Outcome,
    progress: Progress | None,
) -> None:
    limiter = RateLimiter(opts.rate)
    slots = asyncio.Semaphore(max(1, settings.dlq_inflight))
    inflight: set[asyncio.Task[None]] = set()
    crashed: list[BaseException] = []
    read_limit = selector.limit if selector.is_all else None

    async with scanning(broker, o.queue, settings, limit=read_limit) as scan:
        o.depth = scan.depth

        async def one(item: Item, exchange: str, key: str) -> None:
            m = item.message
            try:
                props = amqp_properties(m, replay_headers(m, o.user, datetime.now(UTC)))
                try:
                    await broker.publish(exchange, key, m.body, props)
                except PUBLISH_ERRORS as e:
                    o.error(f"{m.event_id}: {_reason(e)}")
                    await scan.keep(item)
                    return
                if opts.after_publish is not None:
                    try:
                        await opts.after_publish(m)
                    except BaseException as e:  # a simulated crash: no ack, stop everything
                        crashed.append(e)
                        return
                try:
                    await scan.ack(item)
                except PUBLISH_ERRORS as e:
                    o.error(f"{m.event_id}: replayed, but still in the DLQ too: {_reason(e)}")
                    return
                o.done += 1
            finally:
                slots.release()

        try:
            async for item in scan:
                o.scanned = scan.seen
                m = item.message
                if crashed:
                    break
                if not selector.matches(m):
                    await scan.keep(item)
                    continue
                if m.flagged(settings.dlq_flag_replays) and not opts.force:
                    o.skipped_flagged += 1
                    await scan.keep(item)
                    continue
                o.matched += 1
                exchange, key = replay_target(m, opts)
                o.plan[f"{exchange or '(default exchange)'} -> {key}"] += 1
                if opts.dry_run:
                    await scan.keep(item)
                elif not await broker.exchange_exists(exchange):
                    o.error(f"{m.event_id}: exchange {exchange!r} does not exist")
                    await scan.keep(item)
                else:
                    await limiter.wait()
                    await slots.acquire()
                    if crashed:
                        slots.release()
                        await scan.keep(item)
                        break
                    t = asyncio.create_task(one(item, exchange, key))
                    inflight.add(t)
                    t.add_done_callback(inflight.discard)
                if progress is not None:
                    progress(o)
                if selector.limit is not None and o.matched >= selector.limit:
                    break
        finally:
            if inflight:  # confirmed publishes get acked; unconfirmed ones stay in the DLQ
                await asyncio.shield(asyncio.wait(set(inflight), timeout=60))
            o.scanned, o.renewed = scan.seen, scan.renewed
            if scan.broken is not None:
                o.error(f"stopped early, the DLQ channel closed: {_reason(scan.broken)}")
            if progress is not None:
                progress(o)
            if crashed:
                await scan.close(requeue=False)
    if crashed:
        raise crashed[0]


def _reason(e: BaseException) -> str:
    if isinstance(e, aiormq.exceptions.PublishError):
        return "unroutable: no queue is bound for it (message left in the DLQ)"
    return f"{type(e).__name__}: {e}"[:300]


# --- archive / purge / restore ----------------------------------------------------------------


def new_archive_id(queue: str) -> str:
    return f"{queue}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


async def archive(
    settings: DlqSettings,
    target: str,
    selector: Selector,
    *,
    purge: bool,
    file: str | None = None,
    use_db: bool = True,
    user: str | None = None,
    admin: Admin | None = None,
    progress: Progress | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Write the selected messages to the archive (MongoDB and/or a JSONL file); with `purge`,
    then remove them from the queue, batch by batch, each only after its batch is written."""
    if not use_db and not file:
        raise UsageError("nowhere to archive to: give --file or leave the database on")
    o = outcome or Outcome("", "", {}, "")
    o.action, o.queue, o.user = ("purge" if purge else "archive"), queue_of(target), who(user)
    o.selector, o.archive_id, o.file = selector.describe(), new_archive_id(o.queue), file
    o.started = time.monotonic()
    adm = admin or Admin(settings)
    fh = _open_append(file) if file else None
    read_limit = selector.limit if selector.is_all else None
    try:
        async with (
            Broker(settings.amqp_url) as broker,
            audited(adm, o),
            scanning(broker, o.queue, settings, limit=read_limit, keep_all=not purge) as scan,
        ):
            o.depth = scan.depth
            batch: list[tuple[Item, dict[str, Any]]] = []

            async def flush() -> None:
                if fh is not None:
                    await asyncio.to_thread(_write_durably, fh, [r for _, r in batch])
                if use_db:
                    await adm.insert_archive([_archive_doc(r) for _, r in batch])
                for item, _ in batch:  # archived: only now may they leave the queue
                    await (scan.ack(item) if purge else scan.keep(item))
                o.done += len(batch)
                batch.clear()
                if progress is not None:
                    progress(o)

            try:
                async for item in scan:
                    o.scanned = scan.seen
                    if not selector.matches(item.message):
                        await scan.keep(item)
                        continue
                    rec = item.message.record(
                        archive_id=o.archive_id,
                        seq=o.matched,
                        archived_at=iso(datetime.now(UTC)),
                        archived_by=o.user,
                    )
                    o.matched += 1
                    batch.append((item, rec))
                    if len(batch) >= 500:
                        await flush()
                    if selector.limit is not None and o.matched >= selector.limit:
                        break
                if batch:
                    await flush()
            finally:
                o.renewed = scan.renewed
    finally:
        if fh is not None:
            fh.close()
        if admin is None:
            await adm.close()
    return o


def _archive_doc(rec: dict[str, Any]) -> dict[str, Any]:
    doc = {k: v for k, v in rec.items() if k not in ("body_b64", "properties", "headers", "event")}
    doc["_id"] = f"{rec['archive_id']}:{rec['seq']:09d}"
    doc["body"] = base64.b64decode(rec["body_b64"])
    doc["properties"] = json.dumps(rec["properties"])
    doc["headers"] = json.dumps(rec["headers"])
    doc["archived_at"] = datetime.now(UTC)
    doc["restored_at"] = None
    return doc


def _open_append(path: str) -> TextIO:
    return open(path, "a", encoding="utf-8")


def _write_durably(fh: TextIO, records: list[dict[str, Any]]) -> None:
    """On disk before the messages leave the queue (fsync), one JSON object per line."""
    fh.write("".join(json.dumps(r, default=str) + "\n" for r in records))
    fh.flush()
    os.fsync(fh.fileno())


def _is_file(ref: str) -> bool:
    return Path(ref).is_file()


def read_jsonl(path: str) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise DlqError(f"{path}:{n}: not JSON ({e})") from e


async def restore(
    settings: DlqSettings,
    ref: str,
    *,
    force: bool = False,
    user: str | None = None,
    admin: Admin | None = None,
    progress: Progress | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Put archived messages back into the queue they came from, exactly as they were.

    `ref` is an archive id (MongoDB) or a JSONL file written by archive, purge or export.
    Messages already restored from MongoDB are skipped, so an interrupted restore resumes."""
    adm = admin or Admin(settings)
    o = outcome or Outcome("", "", {}, "")
    o.started = time.monotonic()
    try:
        from_file = _is_file(ref)
        records = list(read_jsonl(ref)) if from_file else await adm.archive_docs(ref)
        if not records:
            raise NothingToDo(f"no archive {ref!r} (neither a JSONL file nor an archive id)")
        archive_id = str(records[0].get("archive_id") or ref)
        if not force:
            if from_file and await adm.restored_before(archive_id):
                raise NothingToDo(f"archive {archive_id} was already restored (use --force)")
            records = [r for r in records if not r.get("restored_at")]
            if not records:
                raise NothingToDo(f"archive {archive_id} was already restored (use --force)")
        queues = sorted({str(r["queue"]) for r in records})
        o.action, o.queue, o.selector, o.user = (
            "restore",
            ",".join(queues),
            {"archive": ref},
            who(user),
        )
        o.archive_id, o.matched, o.depth = archive_id, len(records), len(records)
        o.file = ref if from_file else None
        async with Broker(settings.amqp_url) as broker, audited(adm, o):
            for q in queues:
                await broker.depth(q)  # the queue must exist: a publish to nowhere is lost
            await _restore(broker, settings, records, o, adm, progress)
        return o
    finally:
        o.elapsed_s = time.monotonic() - o.started
        if admin is None:
            await adm.close()


async def _restore(
    broker: Broker,
    settings: DlqSettings,
    records: list[dict[str, Any]],
    o: Outcome,
    adm: Admin,
    progress: Progress | None,
) -> None:
    slots = asyncio.Semaphore(max(1, settings.dlq_inflight))
    restored: list[str] = []

    async def one(r: dict[str, Any]) -> None:
        try:
            m = DeadLetter.from_record(r)
            headers = same_headers(m)
            try:
                await broker.publish(
                    "", m.queue, m.body, amqp_properties(m, headers, keep_missing_id=True)
                )
            except PUBLISH_ERRORS as e:
                o.error(f"{m.event_id}: {_reason(e)}")
                return
            o.done += 1
            if "_id" in r:
                restored.append(str(r["_id"]))
            if progress is not None:
                progress(o)
        finally:
            slots.release()

    tasks: list[asyncio.Task[None]] = []
    try:
        for r in records:
            await slots.acquire()
            tasks.append(asyncio.create_task(one(r)))
            o.scanned += 1
    finally:
        if tasks:
            await asyncio.shield(asyncio.wait(tasks, timeout=60))
        if restored:
            await asyncio.shield(adm.mark_restored(restored))


async def audit_log(
    settings: DlqSettings, limit: int = 20, target: str | None = None
) -> list[dict[str, Any]]:
    adm = Admin(settings)
    try:
        return await adm.audit_entries(limit, queue_of(target) if target else None)
    finally:
        await adm.close()
