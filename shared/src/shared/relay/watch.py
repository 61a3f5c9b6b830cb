"""Whether the relay gets events out: how long events have waited with none published (for
/readyz and the `outbox_relay_stalled` log), and the backlog gauges the leaseholder refreshes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import PyMongoError

from shared.logging import get_logger
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_SECONDS
from shared.relay.layout import OUTBOX

STALL_S = 60.0  # events waiting this long with none published: /readyz reports the outbox
GAUGE_S = 2.0  # how often the leaseholder refreshes the backlog gauges
log = get_logger("shared.outbox")


class Watch:
    """One relay's progress and backlog gauges."""

    def __init__(self, service: str, db: Any, stall_s: float = STALL_S) -> None:
        self.service = service
        self.db = db
        self.stall_s = stall_s
        self.waiting_since: float | None = None  # events wait, none published since then
        self.draining_since: float | None = None
        self._stall_logged = 0.0

    def stalled_s(self) -> float:
        """How long events have waited while this relay, holding the lease, published none."""
        since = self.waiting_since
        return 0.0 if since is None else time.monotonic() - since

    def health(self) -> str:
        """`ok`, or why the outbox is not (for /readyz): events wait, none published for
        `stall_s` seconds (broker refusing or unreachable, a drain that hangs)."""
        stalled = self.stalled_s()
        if stalled < self.stall_s:
            return "ok"
        return f"stalled: events have waited {stalled:.0f} s and none was published"

    def empty(self) -> None:
        """The outbox holds nothing unsent."""
        OUTBOX_BACKLOG.labels(self.service).set(0)
        OUTBOX_OLDEST_SECONDS.labels(self.service).set(0)
        self.waiting_since = None

    async def run(self, leading: Callable[[float], bool]) -> None:
        """Refresh the backlog gauges while this relay leads, and say when it is stalled, also
        while a drain keeps failing or hangs (its lease then runs out; it is still counted)."""
        while True:
            await asyncio.sleep(GAUGE_S)
            try:
                now = time.monotonic()
                if leading(now) or self.draining_since is not None:
                    await self.update_backlog()
                stalled = self.stalled_s()
                if stalled >= self.stall_s and now - self._stall_logged >= 60.0:
                    self._stall_logged = now
                    log.error(
                        "outbox_relay_stalled",
                        waiting_s=round(stalled),
                        draining_s=round(now - self.draining_since)
                        if self.draining_since is not None
                        else None,
                    )
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("outbox_gauges_failed", error=repr(e)[:300])

    async def update_backlog(self) -> None:
        try:
            pipeline = [
                {"$match": {"sent_at": None}},
                {"$group": {"_id": None, "n": {"$sum": "$n"}}},
            ]
            rows = await (await self.db[OUTBOX].aggregate(pipeline)).to_list()
            n = int(rows[0]["n"]) if rows else 0
            OUTBOX_BACKLOG.labels(self.service).set(n)
            if n:
                oldest = await self.db[OUTBOX].find_one(
                    {"sent_at": None}, sort=[("seq", ASCENDING)]
                )
                if oldest and isinstance(oldest.get("created_at"), datetime):
                    age = (datetime.now(UTC) - oldest["created_at"]).total_seconds()
                    OUTBOX_OLDEST_SECONDS.labels(self.service).set(max(0.0, age))
            else:
                OUTBOX_OLDEST_SECONDS.labels(self.service).set(0)
        except PyMongoError:
            pass
