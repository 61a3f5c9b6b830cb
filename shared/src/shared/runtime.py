"""Bootstrap and run one service: database, broker, consumer, outbox relay, periodic tasks, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from shared import dlq_age, inbox, outbox, retention
from shared.auth import AuthConfigError, AuthSettings, Guard, declare_schemes, secure_router
from shared.auth.scopes import read_scope
from shared.cloudevent import CloudEvent
from shared.consume.router import LAYOUT, PartitionRouter, plain_connection
from shared.consumer import Consumer
from shared.endpoints import first_answering
from shared.http import create_app
from shared.logging import configure, get_logger
from shared.messaging import Publisher, connect
from shared.metrics import BROKER_CONNECTED, UP
from shared.mongo_uow import MongoUnitOfWork, flush
from shared.service import ApiContext, PeriodicTask, ServiceDefinition, TaskContext
from shared.sessions import SessionRegistry
from shared.settings import DEFAULT_PORTS, ServiceSettings
from shared.topology import declare, service_topology
from shared.uow import UnitOfWork, check_outgoing, contract_from

log = get_logger("shared.runtime")


def periodic_tasks(svc: ServiceDefinition) -> tuple[PeriodicTask, ...]:
    """The service's own periodic work, and the DLQ-age gauge every service runs."""
    if any(t.name == dlq_age.DLQ_AGE_TASK for t in svc.periodic):
        return svc.periodic
    return (*svc.periodic, dlq_age.TASK)


def mongo_client(url: str) -> AsyncMongoClient[Any]:
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        uuidRepresentation="standard",
    )


class ServiceRuntime:
    """Everything one service process runs. Built by `bootstrap`; nothing happens at import."""

    def __init__(
        self,
        svc: ServiceDefinition,
        settings: ServiceSettings,
        *,
        auth: AuthSettings | None = None,
    ) -> None:
        self.svc = svc
        self.settings = settings
        # who may call the HTTP API (DISTSYNC_AUTH_*); checked when HTTP is served (`start`)
        self.guard = Guard(auth or AuthSettings(), svc.name)
        self.client: AsyncMongoClient[Any] = mongo_client(settings.mongodb_url)
        self.db = self.client[settings.db_name(svc.name)]
        self.connection: Any = None
        self.publisher: Publisher | None = None
        self.consumer: Consumer | None = None
        self.relay: outbox.OutboxRelay | None = None
        self.router: PartitionRouter | None = None
        self.sessions = SessionRegistry(svc.name, self.client, self.db)
        # what handlers emit is checked against what the service publishes (shared.uow)
        self.contract = contract_from(svc.publishes)
        self._tasks: list[asyncio.Task[None]] = []
        self._server: uvicorn.Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self.app: FastAPI = self._build_app()

    @property
    def port(self) -> int:
        return self.settings.http_port or DEFAULT_PORTS.get(self.svc.name, 8000)

    def _build_app(self) -> FastAPI:
        app = create_app(
            self.svc.name,
            self.ready,
            self.svc.description,
            max_body_bytes=self.settings.http_max_body_bytes,
        )
        if self.svc.api is not None:
            ctx = ApiContext(self.svc.name, self.db, self.settings, self.publish)
            scope = read_scope(self.svc.name, self.svc.read_scope)
            app.include_router(secure_router(self.svc.api(ctx), self.guard, scope))
        declare_schemes(app)
        return app

    async def publish(self, exchange: str, event: CloudEvent) -> None:
        """Publish at once (the HTTP API); on the service's own exchange, an event that breaks
        its published contract raises OutgoingEventInvalid and is not sent."""
        if self.publisher is None:
            raise RuntimeError("service not started")
        if exchange == self.svc.exchange and self.contract is not None:
            check_outgoing(self.svc.name, self.contract, event.type, event.data)
        await self.publisher.publish_event(exchange, event)

    async def ready(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.client.admin.command("ping"), timeout=2)
            checks["database"] = "ok"
        except Exception as e:
            checks["database"] = f"unreachable: {type(e).__name__}"
        conn = self.connection
        if conn is not None and not conn.is_closed and getattr(conn, "connected", None) is not None:
            checks["broker"] = "ok" if conn.connected.is_set() else "reconnecting"
        else:
            checks["broker"] = "not connected"
        if self.relay is not None:
            checks["outbox"] = self.relay.health()
        return checks

    async def start(self, *, serve_http: bool = True) -> None:
        """Connect, declare, start consuming; returns once the service is running."""
        s = self.settings
        if serve_http:
            self.guard.check()  # AuthConfigError: authentication missing or wrong, do not start
            await self.guard.warm_up()
        await self.db.command("ping")
        await inbox.Inbox.of(self.db, s).setup()
        await outbox.setup(self.db, index_correlation=s.outbox_correlation_index)
        if self.svc.setup_store is not None:
            await self.svc.setup_store(self.db)
        await self.sessions.start()
        self.connection = await connect(s.amqp_url, f"distsync-{self.svc.name}")
        BROKER_CONNECTED.labels(self.svc.name).set(1)
        self.connection.close_callbacks.add(
            lambda *_: BROKER_CONNECTED.labels(self.svc.name).set(0)
        )
        self.connection.reconnect_callbacks.add(
            lambda *_: BROKER_CONNECTED.labels(self.svc.name).set(1)
        )
        if s.declare_topology:
            ch = await self.connection.channel()
            await declare(
                ch,
                service_topology(
                    self.svc,
                    delivery_limit=s.delivery_limit,
                    retry_delays_s=s.retry_delays_s,
                    partitions=s.partitions if self.svc.routes else 1,
                ),
            )
            await ch.close()
        self.publisher = Publisher(self.connection, self.svc.name)
        await self.publisher.channel()
        self.relay = outbox.OutboxRelay(
            self.svc.name,
            self.db,
            self.publisher,
            poll_s=s.outbox_poll_s,
            batch=s.outbox_batch,
            lease_s=s.outbox_lease_s,
            contract=self.contract,
            stall_s=s.outbox_stall_s,
        )
        self.relay.start()
        self.consumer = Consumer(
            self.svc,
            s,
            self.client,
            self.db,
            self.connection,
            self.publisher,
            self.relay.wake,
            sessions=self.sessions,
        )
        await self.consumer.start(partitions=await self._partitions_to_consume())
        if s.partitions > 1 and self.svc.routes:  # a publish-only service routes nothing
            self.router = PartitionRouter(
                self.svc,
                s,
                self.db,
                self.publisher,
                lambda: first_answering(
                    s.amqp_url, lambda u: plain_connection(u, f"distsync-{self.svc.name}-router")
                ),
            )
            self.router.start()
        for task in periodic_tasks(self.svc):
            self._tasks.append(
                asyncio.create_task(self._periodic(task.name, task.interval_s, task.fn))
            )
        retention.export_zero(self.svc.name)
        self._tasks.append(
            asyncio.create_task(
                self._periodic(
                    retention.RETENTION_TASK, s.retention_purge_interval_s, retention.purge_task
                )
            )
        )
        if serve_http:
            cfg = uvicorn.Config(
                self.app,
                host=s.http_host,
                port=self.port,
                log_config=None,
                access_log=False,
                lifespan="off",
            )
            self._server = uvicorn.Server(cfg)
            self._server_task = asyncio.create_task(self._server.serve())
            for _ in range(200):
                if self._server.started or self._server_task.done():
                    break
                await asyncio.sleep(0.05)
            if self._server_task.done():
                self._server_task.result()
        UP.labels(self.svc.name).set(1)
        log.info("service_started", service=self.svc.name, port=self.port if serve_http else None)

    async def _partitions_to_consume(self) -> int:
        """The configured count, or the count the router last routed with when that is
        higher: a lowered count leaves partitions that must still be drained."""
        n = self.settings.partitions
        if n <= 1 or not self.svc.routes:
            return 1
        doc = await self.db[LAYOUT].find_one({"_id": "layout"})
        return max(n, int(doc["count"])) if doc else n

    async def run_in_transaction(self, fn: Callable[[UnitOfWork], Awaitable[None]]) -> None:
        """Run `fn` in one transaction with the outbox, as a handler would (periodic work)."""

        async def body(session: Any) -> MongoUnitOfWork:
            uow = MongoUnitOfWork(
                self.svc.name, self.db, session, self.settings, contract=self.contract
            )
            await fn(uow)
            await flush(uow, self.db, session, datetime.now(UTC))
            return uow

        async with self.client.start_session() as session:
            await self.sessions.track(session)
            uow = await session.with_transaction(body)
        for cb in uow.after_commit:
            with contextlib.suppress(Exception):
                cb()
        if uow.events and self.relay is not None:
            self.relay.wake()

    async def _periodic(
        self, name: str, interval_s: float, fn: Callable[[TaskContext], Awaitable[None]]
    ) -> None:
        ctx = TaskContext(
            self.svc.name, self.db, self.settings, self.run_in_transaction, self.publish
        )
        while True:
            await asyncio.sleep(interval_s)
            try:
                await fn(ctx)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("periodic_task_failed", task=name, error=repr(e))

    async def stop(self) -> None:
        """Stop consuming, finish in-flight work, flush the outbox, close connections."""
        log.info("service_stopping", service=self.svc.name)
        if self.router is not None:  # the next replica routes while this one drains
            await self.router.stop()
        if self.consumer is not None:
            await self.consumer.stop(self.settings.shutdown_grace_s)
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.relay is not None:
            await self.relay.stop(flush=True)
        await self.sessions.stop()
        if self._server is not None:
            self._server.should_exit = True
            if self._server_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server_task, timeout=5)
        if self.publisher is not None:
            with contextlib.suppress(Exception):
                await self.publisher.close()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close()
        with contextlib.suppress(Exception):
            await self.client.close()
        UP.labels(self.svc.name).set(0)
        log.info("service_stopped", service=self.svc.name)


def bootstrap(svc: ServiceDefinition, settings: ServiceSettings | None = None) -> ServiceRuntime:
    cls = svc.settings_cls or ServiceSettings
    return ServiceRuntime(svc, settings or cls())


async def serve_forever(svc: ServiceDefinition, settings: ServiceSettings | None = None) -> None:
    """`distsync run SERVICE`: run until SIGTERM/SIGINT, then shut down gracefully."""
    rt = bootstrap(svc, settings)
    configure(rt.settings.log_level, rt.settings.log_json, service=svc.name)
    try:
        rt.guard.check()
    except AuthConfigError as e:
        log.error("service_refuses_to_start", service=svc.name, reason=str(e))
        raise SystemExit(f"{svc.name}: refusing to start: {e}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    delay = 1.0
    while True:  # dependencies may still be starting: keep trying, visibly
        try:
            await rt.start()
            break
        except Exception as e:
            log.warning("service_start_failed", error=repr(e)[:300], retry_in_s=delay)
            await rt.stop()
            rt = bootstrap(svc, settings or rt.settings)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                delay = min(delay * 2, 15.0)
    # what is built so far lives as long as the process: frozen, full collections stop walking
    # it (each walk pauses the event loop); reference counting still frees what dies
    gc.freeze()
    await stop.wait()
    await rt.stop()
