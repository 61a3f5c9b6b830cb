"""Transactions left open by a killed process are aborted at once instead of holding their
documents until the database gives up on them (`transactionLifetimeLimitSeconds`, 60 s by
default), during which every replica touching those documents stalls on write conflicts.

Each process records the session ids its transactions use (the driver pools them, so there are
only a few) in `runtime_sessions`, with a heartbeat. A process whose entry is stale, or whose
process is gone from this host, or that is this process's previous incarnation (a container
restarted in place keeps host name and pid), has its sessions killed by any live replica; a
restarted process does that before it consumes anything. Killing a live process's session by
mistake (a loop stalled longer than `STALE_S`) only aborts its open transaction, which then
retries: never a wrong result.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from pymongo.errors import PyMongoError

from shared.logging import get_logger
from shared.metrics import SESSIONS_KILLED

COLLECTION = "runtime_sessions"
HEARTBEAT_S = 2.0  # how often a process renews its entry and reaps dead ones
STALE_S = 15.0  # an entry not renewed for this long is a dead process's
log = get_logger("shared.sessions")


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs under `pid` (one we may not signal does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _binary(lsid: Any) -> Binary:
    """Session ids as BSON binary, however the reading client decodes UUIDs."""
    if isinstance(lsid, uuid.UUID):
        return Binary.from_uuid(lsid)
    return Binary(bytes(lsid), 4)


class SessionRegistry:
    """This process's entry in `runtime_sessions`, and the reaper of dead processes' sessions."""

    def __init__(self, service: str, client: Any, db: Any) -> None:
        self.service = service
        self.client = client
        self.coll = db[COLLECTION]
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._lsids: dict[bytes, Any] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register, then abort whatever a dead predecessor left open, before consuming."""
        await self._beat()
        await self.reap()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-sessions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self.coll.delete_one({"_id": self.token})

    async def track(self, session: Any) -> None:
        """Record the session's id before its transaction writes anything (new ids are rare:
        the driver reuses a handful of pooled server sessions)."""
        lsid = session.session_id["id"]
        key = bytes(lsid)
        if key in self._lsids:
            return
        async with self._lock:
            if key not in self._lsids:
                self._lsids[key] = _binary(lsid)
                await self._beat()

    async def _beat(self) -> None:
        await self.coll.update_one(
            {"_id": self.token},
            {
                "$set": {
                    "service": self.service,
                    "host": self.host,
                    "pid": self.pid,
                    "heartbeat_at": datetime.now(UTC),
                    "lsids": list(self._lsids.values()),
                }
            },
            upsert=True,
        )

    def _dead(self, doc: dict[str, Any], now: datetime) -> bool:
        if doc["_id"] == self.token:
            return False
        beat = doc.get("heartbeat_at")
        if beat is None or beat < now - timedelta(seconds=STALE_S):
            return True
        if doc.get("host") == self.host:
            pid = int(doc.get("pid") or 0)
            return pid == self.pid or not pid_alive(pid)
        return False

    async def reap(self) -> int:
        """Kill the sessions of every dead process; returns how many processes were reaped."""
        now = datetime.now(UTC)
        reaped = 0
        async for doc in self.coll.find({"_id": {"$ne": self.token}}):
            if not self._dead(doc, now):
                continue
            lsids = [_binary(x) for x in doc.get("lsids") or []]
            try:
                if lsids:
                    await self.client.admin.command("killSessions", [{"id": x} for x in lsids])
                await self.coll.delete_one({"_id": doc["_id"], "heartbeat_at": doc["heartbeat_at"]})
            except PyMongoError as e:
                log.warning("session_reap_failed", error=repr(e)[:300])
                continue
            reaped += 1
            SESSIONS_KILLED.labels(self.service).inc(len(lsids))
            log.warning(
                "dead_process_sessions_killed",
                host=doc.get("host"),
                pid=doc.get("pid"),
                sessions=len(lsids),
                last_heartbeat=str(doc.get("heartbeat_at")),
            )
        return reaped

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._beat()
                await self.reap()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # database down: the next beat tries again
                log.warning("session_heartbeat_failed", error=repr(e)[:300])
