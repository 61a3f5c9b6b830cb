"""What the dlq tests share: their settings, failed events seeded into a fresh service's DLQ, a
queue to replay into, `distsync dlq` run as a real process, AMQP header tables nested deep."""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import uuid
from typing import Any

import aio_pika

from distsync_ops import dlq as D
from runtime_support import counter_service, drain_queue
from shared import failures as F
from shared.envelope import build
from shared.errors import Rejected
from shared.topology import declare, service_topology


def dlq_settings(amqp_url: str, mongodb_url: str, db_name: str, **kw: Any) -> D.DlqSettings:
    base: dict[str, Any] = dict(
        amqp_url=amqp_url, mongodb_url=mongodb_url, admin_db=db_name + "_admin", dlq_idle_s=2.0
    )
    base.update(kw)
    return D.DlqSettings(**base)


def dlq_env(amqp_url: str, mongodb_url: str, db_name: str, **extra: str) -> dict[str, str]:
    """The environment of a `distsync dlq` process: the settings of `dlq_settings`."""
    return dict(
        os.environ,
        AMQP_URL=amqp_url,
        MONGODB_URL=mongodb_url,
        DISTSYNC_ADMIN_DB=db_name + "_admin",
        DISTSYNC_DLQ_IDLE_S="2",
        **extra,
    )


def failed_headers(
    service: str,
    *,
    event_type: str = "thing.happened",
    exc: BaseException | None = None,
    kind: str = "rejected",
    **extra: Any,
) -> dict[str, Any]:
    """What the runtime writes on an event from `wms.events` that `service` refused."""
    h = F.failure_headers(
        previous={},
        exc=exc or Rejected("no conversion for unit CS"),
        kind=kind,
        service=service,
        queue=f"{service}.main",
        exchange="wms.events",
        routing_key=event_type,
        event_type=event_type,
    )
    h.update(extra)
    return h


async def seed(url: str, n: int, prefix: str = "ops", **header_extra: Any) -> tuple[str, list[str]]:
    """A service topology with n failed events in its DLQ; returns (service, event ids)."""
    svc = counter_service(f"{prefix}-{uuid.uuid4().hex[:8]}")
    conn = await aio_pika.connect(url)
    ids = []
    try:
        ch = await conn.channel(publisher_confirms=True)
        await declare(ch, service_topology(svc))
        for i in range(n):
            ev = build("thing.happened", {"key": f"k{i}", "n": i}, source="wms/t")
            ids.append(ev.id)
            headers = failed_headers(svc.name, **header_extra)
            await ch.default_exchange.publish(
                aio_pika.Message(
                    ev.to_json_bytes(),
                    headers=headers,
                    message_id=ev.id,
                    type=ev.type,
                    content_type="application/cloudevents+json",
                    delivery_mode=2,
                ),
                routing_key=D.queue_of(svc.name),
            )
    finally:
        await conn.close()
    return svc.name, ids


async def sink(url: str, name: str, exchange: str = "wms.events", key: str = "#") -> None:
    """A quorum queue `name` bound to `exchange` (declared as a topic exchange unless it is
    `wms.events`, which the topology declares)."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        if exchange == "wms.events":  # declared by the topology, with its alternate exchange
            ex = await ch.get_exchange(exchange)
        else:
            ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
        await q.bind(ex, routing_key=key)
    finally:
        await conn.close()


async def ids_in(url: str, queue: str) -> list[str | None]:
    return [m.message_id for m in await drain_queue(url, queue)]


DLQ_COMMAND = (sys.executable, "-m", "shared.cli", "dlq")


async def start(*argv: str, env: dict[str, str], cwd: Any = None) -> asyncio.subprocess.Process:
    """`argv` as its own process, with its output piped and no input."""
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(p: asyncio.subprocess.Process, timeout: float = 120) -> tuple[int, str, str]:
    """Wait for `p` to end; returns (exit code, stdout, stderr)."""
    out, err = await asyncio.wait_for(p.communicate(), timeout)
    assert p.returncode is not None
    return p.returncode, out.decode(), err.decode()


async def run_dlq(
    *args: str, env: dict[str, str], cwd: Any = None, timeout: float = 120
) -> tuple[int, str, str]:
    """`distsync dlq ARGS` as operators run it."""
    return await finish(await start(*DLQ_COMMAND, *args, env=env, cwd=cwd), timeout)


def amqp_table(entries: bytes) -> bytes:
    """An AMQP field table: its size, then its encoded entries."""
    return struct.pack(">I", len(entries)) + entries


def deep_headers(levels: int) -> bytes:
    """A header table nested `levels` deep: {"a": {"a": ... {}}}."""
    table = amqp_table(b"")
    for _ in range(levels):
        table = amqp_table(b"\x01aF" + table)
    return table
