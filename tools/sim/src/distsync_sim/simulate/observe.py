"""Talking to the running system: a confirmed publisher that rides out broker restarts, a
listener on every service exchange, the drain check, dead-letter queues and inboxes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import httpx
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from shared import inbox
from shared.failures import H_EXC_MSG as H_MSG
from shared.failures import H_KIND, H_TYPE
from shared.service import SERVICE_NAMES, service_exchange


class Publisher:
    """Publishes with confirms; a failed publish (broker restarting) is retried until confirmed.
    A retry after a lost confirm delivers the event twice, which the inboxes absorb."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: AbstractRobustConnection | None = None
        self._ch: AbstractChannel | None = None
        self._ex: dict[str, AbstractExchange] = {}
        self._lock = asyncio.Lock()
        self.retries = 0
        self.healthy = asyncio.Event()

    async def open(self) -> None:
        self.conn = await aio_pika.connect_robust(
            self.url,
            client_properties={"connection_name": "distsync-simulate"},
            reconnect_interval=0.5,
        )
        self.healthy.set()

    async def _exchange(self, name: str) -> AbstractExchange:
        """One channel for every publish, so the broker gets them in the order they are sent."""
        ex = self._ex.get(name)
        if ex is not None and self._ch is not None and not self._ch.is_closed:
            return ex
        async with self._lock:
            if self._ch is None or self._ch.is_closed:
                assert self.conn is not None
                self._ch = await self.conn.channel(publisher_confirms=True)
                self._ex.clear()
            ex = self._ex.get(name)
            if ex is None:
                ex = self._ex[name] = await self._ch.get_exchange(name, ensure=False)
            return ex

    async def publish(self, exchange: str, key: str, body: bytes, props: dict[str, Any]) -> None:
        delay = 0.1
        while True:
            try:
                ex = await self._exchange(exchange)
                await ex.publish(aio_pika.Message(body, **props), routing_key=key, timeout=15)
                self.healthy.set()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.retries += 1
                self.healthy.clear()
                await asyncio.sleep(delay)
                delay = min(2.0, delay * 2)

    async def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                await self.conn.close()


@dataclass
class Seen:
    type: str
    exchange: str
    causationid: str | None
    at: float  # wall clock, seconds


@dataclass
class Listener:
    """A durable queue bound to every service exchange: what the services published, when."""

    url: str
    queue: str
    seen: dict[str, Seen] = field(default_factory=dict)
    visible: list[tuple[str, str, float]] = field(default_factory=list)  # (type, cause, at)
    last: float = 0.0
    count: int = 0
    conn: AbstractRobustConnection | None = None

    async def start(self) -> None:
        self.conn = await aio_pika.connect_robust(
            self.url,
            client_properties={"connection_name": "distsync-simulate-listener"},
            reconnect_interval=0.5,
        )
        ch = await self.conn.channel()
        await ch.set_qos(prefetch_count=1000)
        q = await ch.declare_queue(
            self.queue, durable=True, arguments={"x-expires": 4 * 3600 * 1000}
        )
        for svc in SERVICE_NAMES:
            ex = await ch.declare_exchange(
                service_exchange(svc), aio_pika.ExchangeType.TOPIC, durable=True
            )
            await q.bind(ex, "#")
        await q.consume(self._on, no_ack=True)

    async def _on(self, m: aio_pika.abc.AbstractIncomingMessage) -> None:
        now = time.time()
        with contextlib.suppress(Exception):
            ev = json.loads(m.body)
            eid, typ, cause = ev["id"], ev["type"], ev.get("causationid")
            if eid not in self.seen:
                self.seen[eid] = Seen(typ, m.exchange or "", cause, now)
                if typ in ("availability.changed", "order.status_changed"):
                    self.visible.append((typ, cause or "", now))
        self.count += 1
        self.last = time.monotonic()

    async def close(self, delete: bool) -> None:
        if self.conn is None:
            return
        with contextlib.suppress(Exception):
            if delete:
                ch = await self.conn.channel()
                await ch.queue_delete(self.queue)
        with contextlib.suppress(Exception):
            await self.conn.close()


def parse_metric(text: str, name: str) -> float:
    """Sum of every sample of `name` (all label sets) in a Prometheus text page."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            with contextlib.suppress(ValueError, IndexError):
                total += float(line.rsplit(" ", 1)[1])
    return total


async def scrape(urls: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=5) as c:
        for u in urls:
            with contextlib.suppress(httpx.HTTPError):
                r = await c.get(u + "/metrics")
                if r.status_code == 200:
                    out[u] = r.text
    return out


async def queue_depths(conn: AbstractRobustConnection, names: Iterable[str]) -> dict[str, int]:
    """Ready messages per queue (passive declare); -1 when it cannot be read."""
    out: dict[str, int] = {}
    ch: AbstractChannel | None = None
    for n in names:
        try:
            if ch is None or ch.is_closed:
                ch = await conn.channel()
            q = await ch.declare_queue(n, passive=True)
            out[n] = int(q.declaration_result.message_count or 0)
        except Exception:
            out[n] = -1
            ch = None
    if ch is not None:
        with contextlib.suppress(Exception):
            await ch.close()
    return out


@dataclass
class DlqEntry:
    service: str
    message_id: str | None
    kind: str | None
    event_type: str | None
    reason: str


async def read_dlqs(
    conn: AbstractRobustConnection, url: str, services: Iterable[str]
) -> list[DlqEntry]:
    """Every dead-lettered message, left in place: through `distsync_ops.dlq` (which keeps their
    order) when it is there, else with basic.get, requeued when the channel closes."""
    services = list(services)
    try:
        return await _read_with_dlq_tools(url, services)
    except (ImportError, AttributeError, TypeError):
        pass
    out: list[DlqEntry] = []
    for svc in services:
        ch = await conn.channel()
        try:
            q = await ch.declare_queue(f"{svc}.dlq", passive=True)
            while True:
                m = await q.get(no_ack=False, fail=False, timeout=10)
                if m is None:
                    break
                h = m.headers or {}
                out.append(
                    DlqEntry(
                        svc,
                        m.message_id,
                        _s(h.get(H_KIND)),
                        _s(h.get(H_TYPE)),
                        (_s(h.get(H_MSG)) or "")[:300],
                    )
                )
        except Exception as e:
            out.append(DlqEntry(svc, None, "unreadable", None, repr(e)[:300]))
        finally:
            with contextlib.suppress(Exception):
                await ch.close()
    return out


async def _read_with_dlq_tools(url: str, services: list[str]) -> list[DlqEntry]:
    from distsync_ops import dlq

    settings = dlq.DlqSettings(amqp_url=url, dlq_idle_s=1.0)
    out: list[DlqEntry] = []
    for svc in services:
        for m in await dlq.show(settings, svc, limit=1_000_000):
            h = m.headers or {}
            out.append(
                DlqEntry(
                    svc,
                    _s(m.properties.get("message_id")),
                    _s(h.get(H_KIND)),
                    _s(h.get(H_TYPE)),
                    (_s(h.get(H_MSG)) or "")[:300],
                )
            )
    return out


def _s(v: Any) -> str | None:
    if v is None:
        return None
    return v.decode() if isinstance(v, bytes) else str(v)


async def found_ids(db: Any, collection: str, ids: list[str], scan: bool = False) -> set[str]:
    """Which of `ids` are in `collection`; `scan` reads every id once (a database of our own)
    instead of looking them up in chunks."""
    out: set[str] = set()
    names = await inbox.collections(db) if collection == inbox.INBOX else [collection]
    for name in names:  # the inbox is a collection per time bucket
        if scan:
            async for d in db[name].find({}, {"_id": 1}):
                out.add(d["_id"])
            continue
        for i in range(0, len(ids), 5000):
            chunk = ids[i : i + 5000]
            async for d in db[name].find({"_id": {"$in": chunk}}, {"_id": 1}):
                out.add(d["_id"])
    return out


async def outbox_backlog(db: Any) -> int:
    return int(await db["outbox"].count_documents({"sent_at": None}))


async def applied_twice(
    dbs: dict[str, Any], keys: dict[str, list[str]], scan: bool = False
) -> dict[str, int]:
    """Event ids recorded twice inside one aggregate's own history: an effect applied twice.

    Reads the services' documents (best effort: a field a service does not keep is skipped).
    `keys`: service -> the aggregate ids of this run (SKUs for availability); `scan`: the
    databases are this run's own, read them whole.
    """
    spec = {
        "availability": ("positions", "sku", "movements", "event_id"),
        "order-status": ("orders", "_id", "facts", "id"),
        "returns": ("rmas", "_id", "history", "event_id"),
        "carrier-tracking": ("shipments", "_id", "scans", "event_id"),
        "receipt": ("purchase_orders", "_id", "receipts", "receipt_id"),
    }
    out: dict[str, int] = {}
    for svc, (coll, field_, arr, key) in spec.items():
        db, ids = dbs.get(svc), keys.get(svc, [])
        if db is None:
            continue
        dup = 0
        fields = {f"{arr}.{k}": 1 for k in (key, "kind", "sku", "disposition", "qty")}
        queries = (
            [{}]
            if scan
            else [{field_: {"$in": ids[i : i + 2000]}} for i in range(0, len(ids), 2000)]
        )
        for query in queries:
            async for d in db[coll].find(query, fields):
                vals = [
                    tuple(str(e.get(k)) for k in (key, "kind", "sku", "disposition", "qty"))
                    for e in d.get(arr) or []
                    if isinstance(e, dict) and e.get(key)
                ]
                dup += len(vals) - len(set(vals))
        out[svc] = dup
    return out


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        labels: dict[str, str] = {}
        if "{" in head:
            if head[: head.index("{")] != name:
                continue
            for part in head[head.index("{") + 1 : head.rindex("}")].split('",'):
                k, _, v = part.partition('="')
                labels[k.strip()] = v.rstrip('"')
        elif head != name:
            continue
        with contextlib.suppress(ValueError):
            out.append((labels, float(value)))
    return out


def service_stats(text: str) -> dict[str, Any]:
    """What one service instance says about its work since it (re)started."""
    consumed: dict[str, float] = {}
    for labels, v in _samples(text, "distsync_messages_consumed_total"):
        k = labels.get("outcome", "?")
        consumed[k] = consumed.get(k, 0.0) + v
    retries: dict[str, float] = {}
    for labels, v in _samples(text, "distsync_transaction_retries_total"):
        k = labels.get("reason", "?")
        retries[k] = retries.get(k, 0.0) + v

    def avg(name: str) -> float | None:
        s = sum(v for _, v in _samples(text, name + "_sum"))
        n = sum(v for _, v in _samples(text, name + "_count"))
        return round(s / n, 4) if n else None

    return {
        "consumed": {k: int(v) for k, v in sorted(consumed.items())},
        "transaction_retries": {k: int(v) for k, v in sorted(retries.items())},
        "avg_batch": avg("distsync_batch_messages"),
        "handler_s_per_message": avg("distsync_handler_seconds"),
        "outbox_delivery_s": avg("distsync_outbox_delivery_seconds"),
    }
