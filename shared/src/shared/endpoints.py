"""Several broker endpoints in one setting: `amqp://u:p@h1:5672/v,amqp://u:p@h2:5672/v`.

Each entry is a full AMQP URL (a comma inside a password is written `%2C`). A robust connection
starts on a random endpoint, so replicas spread over the nodes, and when the node it is on goes
away (or an attempt fails) it moves to the next endpoint in the list, restoring its channels,
queues and consumers as aio-pika's `RobustConnection` does. Give every entry the same query
string: the AMQP options (`heartbeat`, ...) are read from the entry connected to, aio-pika's own
(`reconnect_interval`, ...) from the first.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiormq
import aiormq.abc
from aio_pika import RobustConnection
from aio_pika.abc import TimeoutType
from yarl import URL

from shared.logging import get_logger

log = get_logger("shared.endpoints")
T = TypeVar("T")

SCHEMES = ("amqp", "amqps")
# how long one attempt on one node may take before the next is tried (an unreachable host that
# drops packets would otherwise hold a reconnect for minutes)
ATTEMPT_TIMEOUT_S = 10.0
# what a node that does not answer raises; anything else (a bug, a cancel) is not a reason to move
UNANSWERED = (OSError, asyncio.TimeoutError, aiormq.exceptions.AMQPError)


def parse_endpoints(value: str) -> list[str]:
    """The URLs of a comma list, checked one by one so a typo names its entry."""
    entries = [e.strip() for e in value.split(",")]
    for i, entry in enumerate(entries, 1):
        where = f"broker endpoint {i} of {len(entries)}"
        if not entry:
            raise ValueError(f"{where} is empty (two commas in a row, or a trailing comma?)")
        try:
            parts = urlsplit(entry)
            parts.port  # noqa: B018  (reading it validates it)
        except ValueError as e:
            raise ValueError(f"{where} is not a valid URL: {e}") from None
        if parts.scheme not in SCHEMES:
            raise ValueError(f"{where} must start with amqp:// or amqps://, not {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError(f"{where} has no host")
    return entries


class MultiEndpointConnection(RobustConnection):
    """A RobustConnection whose every (re)connect attempt goes to the next endpoint of a list.

    Only the URL changes: aio-pika calls `_on_connection_close` both when an open connection is
    lost and when an attempt fails, so that is where the next endpoint is chosen; its own loop
    then reconnects and restores channels and consumers. Before the first connection, every
    endpoint is tried once and then the last error is raised (aio-pika's fail-fast, per list).
    """

    def __init__(self, endpoints: Sequence[str], *, start: int | None = None, **kwargs: Any):
        if not endpoints:
            raise ValueError("no broker endpoint given")
        urls = [URL(e) for e in endpoints]
        super().__init__(urls[0], fail_fast="0", **kwargs)
        self.endpoints = urls
        self._at = random.randrange(len(urls)) if start is None else start % len(urls)
        self.url = urls[self._at]
        self._has_connected = False
        self._failed_before_first = 0
        self._gave_up: asyncio.Future[None] = self.loop.create_future()

    @property
    def endpoint_index(self) -> int:
        """Which endpoint of the list the connection is on (or tries next)."""
        return self._at

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        left = str(self)
        if not (self._close_called or self.is_closed):
            self._at = (self._at + 1) % len(self.endpoints)
            self.url = self.endpoints[self._at]
            log.info("amqp_endpoint_next", left=left, next=str(self))
            if not self._has_connected:
                self._note_failed_attempt(closing)
        await super()._on_connection_close(closing)

    def _note_failed_attempt(self, closing: asyncio.Future[Any]) -> None:
        self._failed_before_first += 1
        if self._failed_before_first < len(self.endpoints) or self._gave_up.done():
            return
        exc = closing.exception() if not closing.cancelled() else None
        self._gave_up.set_exception(exc or ConnectionError("no broker endpoint answered"))

    async def _on_connected(self) -> None:
        await super()._on_connected()
        self._has_connected = True

    async def connect(self, timeout: TimeoutType = None) -> None:
        if self._has_connected:
            await super().connect(timeout)
            return
        attempt = asyncio.ensure_future(super().connect(timeout))
        await asyncio.wait({attempt, self._gave_up}, return_when=asyncio.FIRST_COMPLETED)
        if attempt.done():
            attempt.result()
            return
        attempt.cancel()
        await asyncio.gather(attempt, return_exceptions=True)
        await self.close()
        self._gave_up.result()


async def connect_robust(
    endpoints: Sequence[str],
    *,
    name: str,
    reconnect_interval: float = 1.0,
    start: int | None = None,
) -> MultiEndpointConnection:
    """An open MultiEndpointConnection named `name` in the broker's connection list, starting
    on endpoint `start` (random when None)."""
    conn = MultiEndpointConnection(
        endpoints,
        start=start,
        client_properties={"connection_name": name},
        reconnect_interval=reconnect_interval,
    )
    await conn.connect(timeout=ATTEMPT_TIMEOUT_S)
    return conn


async def first_answering(value: str, connect: Callable[[str], Awaitable[T]]) -> T:
    """`connect(url)` for the first endpoint of a comma list that answers, in list order (for
    connections that need no failover); raises the last endpoint's error. A value without a
    comma is passed on unchanged, as before endpoint lists existed."""
    if "," not in value:
        return await connect(value)
    error: BaseException | None = None
    for url in parse_endpoints(value):
        try:
            return await asyncio.wait_for(connect(url), ATTEMPT_TIMEOUT_S)
        except UNANSWERED as e:
            log.warning("amqp_endpoint_unanswered", endpoint=_safe(url), error=repr(e))
            error = e
    assert error is not None
    raise error


async def connect_first(value: str, **kwargs: Any) -> aiormq.abc.AbstractConnection:
    """`aiormq.connect(url, **kwargs)` to the first endpoint of a comma list that answers."""
    return await first_answering(value, lambda url: aiormq.connect(url, **kwargs))


def _safe(url: str) -> str:
    """The URL without its password, for logs."""
    u = URL(url)
    return str(u.with_password("******")) if u.password else url
