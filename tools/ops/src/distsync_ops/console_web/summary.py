"""What the console shows of each DLQ, kept in memory and refreshed in the background.

The admin API's `GET /v1/dlq` reads a queue by walking it whole under the queue's lock (that is
how a read leaves every message in place and in order, `distsync_ops.dlq.scan`): with 100,000
messages that is seconds of work, and it holds the lock that a replay or purge needs. A page
cannot do that on every load. So the console reads a snapshot: one walk per queue, made in the
background, at most one at a time per queue and, unless asked for, never more often than
`min_gap_s`; redone when the live depth (a passive queue declare, cheap) differs from the
snapshot's, when the snapshot is older than `max_age_s`, or when asked. A page always answers at
once with the live depth and the last snapshot (and says how old it is); a queue never walked
yet answers `scanning` and fills in shortly.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from distsync_ops import dlq as D
from distsync_ops.dlq.reading import peek
from distsync_ops.dlq.values import iso
from shared import failures as F

HOURS = 24  # the per-hour chart covers the last day
SAMPLE = 200  # messages kept per failure group, for the group and message pages
SAMPLE_TOTAL = 2000  # and in all (a body can be 256 KiB): other messages are read from the queue
PATTERNS = 5  # message patterns kept per group

_VARIABLE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuids
    r"|\b[\w.-]*\d[\w.-]*\b",  # any word with a digit in it: ids, SKUs, numbers, times
    re.IGNORECASE,
)


def pattern(message: str | None) -> str:
    """An exception message with what varies per message (ids, numbers) replaced by `#`."""
    if not message:
        return ""
    return _VARIABLE.sub("#", message[:500])[:200]


@dataclass
class Snapshot:
    target: str
    queue: str
    depth: int
    scanned: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    flagged: int = 0
    groups: list[dict[str, Any]] = field(default_factory=list)
    hourly: list[int] = field(default_factory=lambda: [0] * HOURS)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # sample, by event id
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    took_s: float = 0.0
    error: str | None = None

    def view(self, with_groups: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "queue": self.queue,
            "depth": self.depth,
            "scanned": self.scanned,
            "oldest": iso(self.oldest),
            "newest": iso(self.newest),
            "flagged": self.flagged,
            "hourly": self.hourly,
            "built_at": iso(self.built_at),
            "took_s": round(self.took_s, 3),
            "error": self.error,
            "group_count": len(self.groups),
        }
        if with_groups:
            out["groups"] = [{k: v for k, v in g.items() if k != "ids"} for g in self.groups]
        return out


def build(
    target: str, queue: str, depth: int, msgs: list[D.DeadLetter], flag: int, now: datetime
) -> Snapshot:
    """The snapshot of one walk: the API's summary, plus patterns, the chart and a sample."""
    s = D.summarize(target, queue, depth, msgs, flag)
    snap = Snapshot(target, queue, depth, s.scanned, s.oldest, s.newest, s.flagged)
    patterns: dict[str, Counter[str]] = {}
    samples: dict[str, list[str]] = {}
    start = now - timedelta(hours=HOURS)
    for m in msgs:
        patterns.setdefault(m.group, Counter())[pattern(m.header_text(F.H_EXC_MSG))] += 1
        t = m.last_failure
        if t is not None and start <= t <= now:
            snap.hourly[min(HOURS - 1, int((t - start).total_seconds() // 3600))] += 1
        kept = samples.setdefault(m.group, [])
        room = len(kept) < SAMPLE and len(snap.messages) < SAMPLE_TOTAL
        if room and m.event_id and m.event_id not in snap.messages:
            kept.append(m.event_id)
            snap.messages[m.event_id] = m.summary(flag)
    for g in s.groups:
        d = g.as_dict()
        d["patterns"] = [{"pattern": p, "count": n} for p, n in patterns[g.id].most_common()]
        d["patterns"] = d["patterns"][:PATTERNS]
        d["ids"] = samples.get(g.id, [])
        snap.groups.append(d)
    return snap


class SummaryCache:
    """The last snapshot of each queue, and the walk that renews it (one at a time per queue)."""

    def __init__(
        self, settings: D.DlqSettings, *, max_age_s: float = 300.0, min_gap_s: float = 5.0
    ) -> None:
        self.settings = settings
        self.max_age_s, self.min_gap_s = max_age_s, min_gap_s
        self.snaps: dict[str, Snapshot] = {}
        self.walks: dict[str, asyncio.Task[None]] = {}
        self.last_walk: dict[str, float] = {}
        # the depth when the walk in progress began: while a walk holds messages, the broker
        # counts only the rest as ready, and the page would show a queue draining that is not
        self.walk_depth: dict[str, int] = {}
        self._broker: D.Broker | None = None

    async def depths(self, targets: list[str]) -> dict[str, int | str]:
        """The live depth of each target's queue (an error text for one that cannot be read),
        over one connection kept for the purpose (opened again when it was lost)."""
        broker = self._broker
        if broker is None or broker.conn is None or broker.conn.is_closed:
            if broker is not None:
                await broker.__aexit__(None, None, None)
            broker = self._broker = await D.Broker(self.settings.amqp_url).__aenter__()
        out: dict[str, int | str] = {}
        for t in targets:
            try:
                out[t] = await broker.depth(D.queue_of(t))
            except Exception as e:  # no such queue, or the channel refused: say so
                out[t] = f"{type(e).__name__}: {e}"[:300]
        return out

    async def close(self) -> None:
        """Stop the walks in progress (each gives its messages back as its channel closes) and
        close the connection kept for depths: at shutdown, nothing is left open."""
        for task in self.walks.values():
            task.cancel()
        for task in self.walks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.walks.clear()
        broker, self._broker = self._broker, None
        if broker is not None:
            with contextlib.suppress(Exception):
                await broker.__aexit__(None, None, None)

    def walking(self, target: str) -> bool:
        task = self.walks.get(target)
        return task is not None and not task.done()

    def due(self, target: str, depth: int | str, force: bool) -> bool:
        snap = self.snaps.get(target)
        if self.walking(target) or not isinstance(depth, int):
            return False
        if snap is None or force:  # asked for (after an operation, or "Refresh now")
            return True
        if time.monotonic() - self.last_walk.get(target, 0.0) < self.min_gap_s:
            return False
        age = (datetime.now(UTC) - snap.built_at).total_seconds()
        return snap.depth != depth or age > self.max_age_s

    def kick(self, target: str) -> asyncio.Task[None]:
        task = self.walks.get(target)
        if task is None or task.done():
            self.last_walk[target] = time.monotonic()
            task = self.walks[target] = asyncio.create_task(self._walk(target))
        return task

    async def _walk(self, target: str) -> None:
        queue = D.queue_of(target)
        started = time.monotonic()
        try:
            async with D.Broker(self.settings.amqp_url) as broker:
                depth = self.walk_depth[target] = await broker.depth(queue)
                msgs = await peek(broker, queue, self.settings) if depth else []
            now = datetime.now(UTC)
            flag = self.settings.dlq_flag_replays
            # CPU work on tens of thousands of messages: off the loop that answers the pages
            snap = await asyncio.to_thread(build, target, queue, depth, msgs, flag, now)
        except Exception as e:  # shown on the page; the next load tries again
            old = self.snaps.get(target)
            snap = old or Snapshot(target, queue, 0)
            snap.error = f"{type(e).__name__}: {e}"[:300]
        snap.took_s = time.monotonic() - started
        self.snaps[target] = snap
        self.walk_depth.pop(target, None)

    async def overview(
        self, targets: list[str], *, force: bool = False, wait_s: float = 0.0
    ) -> list[dict[str, Any]]:
        """Each target's live depth and last snapshot, starting the walks that are due."""
        live = await self.depths(targets)
        started = [self.kick(t) for t in targets if self.due(t, live[t], force)]
        if started and wait_s > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(asyncio.gather(*started)), wait_s)
        out = []
        for t in targets:
            snap = self.snaps.get(t)
            view = snap.view(with_groups=False) if snap else {"target": t, "scanned": 0}
            depth = live[t]
            if self.walking(t) and isinstance(depth, int) and t in self.walk_depth:
                depth = max(depth, self.walk_depth[t])
            view.update(
                live_depth=depth if isinstance(depth, int) else None,
                live_error=None if isinstance(depth, int) else depth,
                state=self.state(t, snap, depth),
            )
            out.append(view)
        return out

    def state(self, target: str, snap: Snapshot | None, depth: int | str) -> str:
        if not isinstance(depth, int):
            return "unreadable"
        if snap is None:
            return "scanning"
        if self.walking(target) or snap.depth != depth:
            return "refreshing"
        return "current"

    async def snapshot(self, target: str, *, force: bool = False, wait_s: float = 0.0) -> Any:
        """One target's snapshot with its groups (None until its first walk has ended)."""
        [view] = await self.overview([target], force=force, wait_s=wait_s)
        snap = self.snaps.get(target)
        return None if snap is None else {**snap.view(), **view}

    def group(self, target: str, group_id: str) -> dict[str, Any] | None:
        snap = self.snaps.get(target)
        if snap is None:
            return None
        for g in snap.groups:
            if g["id"] == group_id:
                msgs = [snap.messages[i] for i in g["ids"] if i in snap.messages]
                view = {k: v for k, v in g.items() if k != "ids"}
                return {**view, "messages": msgs, "built_at": iso(snap.built_at)}
        return None

    def message(self, target: str, event_id: str) -> dict[str, Any] | None:
        snap = self.snaps.get(target)
        return None if snap is None else snap.messages.get(event_id)
