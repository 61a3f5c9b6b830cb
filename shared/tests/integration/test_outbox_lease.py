"""The outbox lease: a holder that died on this host is replaced at once, not after its lease
runs out; a live holder (another process, or another relay in this process) never is."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.envelope import build
from shared.messaging import Outgoing
from shared.outbox import LEASE, OUTBOX, OutboxRelay, outbox_doc
from shared.uow import PendingEvent

pytestmark = pytest.mark.integration


class Sent:
    def __init__(self) -> None:
        self.ids: list[str] = []

    async def publish_many(self, items: list[Outgoing]) -> list[BaseException | None]:
        self.ids.extend(it.properties["message_id"] for it in items)
        return [None for _ in items]


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


async def setup_lease(db: Any, pid: int, owner: str | None = None) -> None:
    host = socket.gethostname()
    ev = PendingEvent("svc.events", "K", build("svc.changed", {"k": "K"}, source="svc"))
    await db[OUTBOX].insert_one(outbox_doc([ev], datetime.now(UTC)))
    await db[LEASE].insert_one(
        {
            "_id": "relay",
            "owner": owner or f"{host}:{pid}:before",
            "host": host,
            "pid": pid,
            "expires_at": datetime.now(UTC) + timedelta(seconds=60),
        }
    )


async def test_a_holder_whose_process_is_gone_is_replaced_at_once(mongo: Any, db_name: str) -> None:
    db = mongo[db_name]
    await setup_lease(db, dead_pid())
    sent = Sent()
    relay = OutboxRelay("svc", db, sent)
    assert await relay.drain_once() == 1
    assert len(sent.ids) == 1
    lease = await db[LEASE].find_one({"_id": "relay"})
    assert lease is not None and lease["owner"] == relay.owner


async def test_a_container_restarted_in_place_takes_its_predecessors_lease(
    mongo: Any, db_name: str
) -> None:
    """Same host name, same pid (pid 1 in a container), but no relay of this process holds it."""
    db = mongo[db_name]
    await setup_lease(db, os.getpid())
    relay = OutboxRelay("svc", db, Sent())
    assert await relay.drain_once() == 1


async def test_a_live_holder_keeps_its_lease(mongo: Any, db_name: str) -> None:
    db = mongo[db_name]
    await setup_lease(db, os.getppid())  # the process that started pytest: alive
    sent = Sent()
    relay = OutboxRelay("svc", db, sent)
    assert await relay.drain_once() == 0
    assert sent.ids == []
    # nor another relay of this very process
    other = OutboxRelay("svc", db, Sent())
    await db[LEASE].update_one(
        {"_id": "relay"}, {"$set": {"owner": other.owner, "pid": os.getpid()}}
    )
    assert await relay.drain_once() == 0
    assert sent.ids == []
    lease = await db[LEASE].find_one({"_id": "relay"})
    assert lease is not None and lease["owner"] == other.owner
