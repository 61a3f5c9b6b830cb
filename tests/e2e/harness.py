"""End-to-end harness: real services in-process with real HTTP, the real broker and database."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aio_pika
import httpx

from distsync_sim.testing import free_port, open_auth
from shared.auth import AuthSettings
from shared.envelope import build
from shared.runtime import ServiceRuntime
from shared.settings import ServiceSettings
from shared.topology import all_services, declare, full_topology


@dataclass
class Running:
    name: str
    runtime: ServiceRuntime
    url: str
    headers: dict[str, str] = field(default_factory=dict)  # credentials, when auth is on

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, headers=self.headers)


@dataclass
class Cluster:
    amqp_url: str
    mongodb_url: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    running: dict[str, Running] = field(default_factory=dict)
    # who may call the services: a test stack runs open (and the services say so) unless told
    auth: AuthSettings = field(default_factory=open_auth)
    client_headers: dict[str, str] = field(default_factory=dict)  # what `Running.client` sends
    _conn: Any = None
    _ch: Any = None

    async def apply_topology(self) -> None:
        conn = await aio_pika.connect(self.amqp_url)
        await declare(await conn.channel(), full_topology(all_services(), retry_delays_s=[1]))
        await conn.close()

    async def start(self, *names: str, **overrides: Any) -> dict[str, Running]:
        defs = {s.name: s for s in all_services()}
        for name in names:
            svc = defs[name]
            settings_cls = svc.settings_cls or ServiceSettings
            port = free_port()
            settings = settings_cls(
                amqp_url=self.amqp_url,
                mongodb_url=self.mongodb_url,
                mongodb_db=f"e2e_{self.tag}_{name.replace('-', '_')}",
                http_port=port,
                log_json=False,
                outbox_poll_s=0.05,
                batch_wait_ms=2,
                retry_delays_s=[1],
                **overrides.get(name, {}),
            )
            rt = ServiceRuntime(svc, settings, auth=self.auth)
            await rt.start(serve_http=True)
            url = f"http://127.0.0.1:{port}"
            self.running[name] = Running(name, rt, url, dict(self.client_headers))
        return self.running

    async def stop(self) -> None:
        for r in list(self.running.values())[::-1]:
            await r.runtime.stop()
        self.running.clear()
        if self._conn is not None:
            await self._conn.close()

    async def publish(
        self,
        exchange: str,
        type: str,
        data: dict[str, Any],
        *,
        source: str,
        time: datetime | None = None,
        id: str | None = None,
        correlationid: str | None = None,
    ) -> str:
        ev = build(type, data, source=source, time=time, id=id, correlationid=correlationid)
        await self.publish_raw(exchange, type, ev.to_json_bytes(), message_id=ev.id)
        return ev.id

    async def publish_raw(self, exchange: str, key: str, body: bytes, **props: Any) -> None:
        if self._conn is None:
            self._conn = await aio_pika.connect(self.amqp_url)
            self._ch = await self._conn.channel(publisher_confirms=True)
        ex = await self._ch.get_exchange(exchange, ensure=False)
        await ex.publish(aio_pika.Message(body, delivery_mode=2, **props), routing_key=key)

    async def listen(self, exchange: str, *keys: str) -> list[dict[str, Any]]:
        """Collect CloudEvents published on `exchange` with the given routing keys."""
        if self._conn is None:
            self._conn = await aio_pika.connect(self.amqp_url)
            self._ch = await self._conn.channel(publisher_confirms=True)
        ch = await self._conn.channel()
        q = await ch.declare_queue("", exclusive=True)
        ex = await ch.get_exchange(exchange, ensure=False)
        for k in keys or ("#",):
            await q.bind(ex, k)
        got: list[dict[str, Any]] = []

        async def on(m: Any) -> None:
            got.append(json.loads(m.body))

        await q.consume(on, no_ack=True)
        return got


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 20.0, interval: float = 0.05
) -> Any:
    """Poll until `check` returns something truthy; never a fixed sleep."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except (httpx.HTTPError, KeyError, AssertionError) as e:
            last = e
        if last and not isinstance(last, Exception):
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


async def get_json(r: Running, path: str, status: int = 200) -> Any:
    async with r.client() as c:
        resp = await c.get(path)
    if resp.status_code != status:
        return None
    return resp.json()
