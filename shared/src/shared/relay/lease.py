"""The relay's lease: one replica at a time publishes the outbox, which keeps each aggregate's
events in order. The holder renews it at half its term; another replica takes it when it runs
out, or at once when its holder ran on the same host and is gone."""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.logging import get_logger
from shared.metrics import OUTBOX_LEADER
from shared.sessions import pid_alive

LEASE = "outbox_lease"
log = get_logger("shared.outbox")
_LIVE_OWNERS: set[str] = set()  # relays running in this process (tests run several)


class Lease:
    """One relay's claim on the `outbox_lease` document."""

    def __init__(self, service: str, db: Any, lease_s: float) -> None:
        self.service = service
        self.db = db
        self.lease_s = lease_s
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        _LIVE_OWNERS.add(self.owner)
        self.until = 0.0  # monotonic time up to which this relay holds it

    def _claim(self, now: datetime) -> dict[str, Any]:
        return {
            "$set": {
                "owner": self.owner,
                "host": self.host,
                "pid": os.getpid(),
                "expires_at": now + timedelta(seconds=self.lease_s),
            }
        }

    async def hold(self) -> bool:
        """Whether this relay holds the lease, renewing or taking it as needed."""
        now_mono = time.monotonic()
        if now_mono < self.until - self.lease_s / 2:
            return True
        now = datetime.now(UTC)
        try:
            doc = await self.db[LEASE].find_one_and_update(
                {"_id": "relay", "$or": [{"owner": self.owner}, {"expires_at": {"$lt": now}}]},
                self._claim(now),
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            doc = None
        held = bool(doc and doc.get("owner") == self.owner)
        if not held:
            held = await self._take_from_dead(now)
        self.until = now_mono + self.lease_s if held else 0.0
        OUTBOX_LEADER.labels(self.service).set(1 if held else 0)
        return held

    async def _take_from_dead(self, now: datetime) -> bool:
        """Take the lease at once, not after it expires, when its holder ran on this host and
        is gone: a process restarted after a crash (its pid is dead), or a container restarted
        in place (same host, same pid, but no relay of this process holds it). Otherwise a
        restarted service's events would wait up to `lease_s` in its outbox."""
        cur = await self.db[LEASE].find_one({"_id": "relay"})
        if not cur or cur.get("host") != self.host or cur.get("owner") in _LIVE_OWNERS:
            return False
        pid = int(cur.get("pid") or 0)
        if pid != os.getpid() and pid_alive(pid):
            return False
        doc = await self.db[LEASE].find_one_and_update(
            {"_id": "relay", "owner": cur["owner"]},
            self._claim(now),
            return_document=ReturnDocument.AFTER,
        )
        if not doc or doc.get("owner") != self.owner:
            return False
        log.warning("outbox_lease_taken_over", previous=cur["owner"], reason="holder gone")
        return True

    async def release(self) -> None:
        """Let another replica take the lease at once; this relay is done."""
        with contextlib.suppress(Exception):
            await self.db[LEASE].update_one(
                {"_id": "relay", "owner": self.owner},
                {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}},
            )
        OUTBOX_LEADER.labels(self.service).set(0)
        _LIVE_OWNERS.discard(self.owner)
