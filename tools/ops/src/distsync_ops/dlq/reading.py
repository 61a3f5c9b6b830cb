"""list / show / export: reading a queue leaves every message in place and in order."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from distsync_ops.dlq.broker import Broker
from distsync_ops.dlq.errors import DlqError
from distsync_ops.dlq.message import DeadLetter
from distsync_ops.dlq.outcome import Outcome
from distsync_ops.dlq.scan import scanning
from distsync_ops.dlq.selector import Selector, queue_of, who
from distsync_ops.dlq.settings import DlqSettings
from distsync_ops.dlq.values import _text, iso
from shared import failures as F


@dataclass
class Group:
    id: str
    exception_type: str
    event_type: str
    service: str
    count: int = 0
    flagged: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    example: str | None = None

    def add(self, m: DeadLetter, threshold: int) -> None:
        self.count += 1
        self.flagged += m.flagged(threshold)
        t = m.last_failure
        if t is not None:
            self.oldest = t if self.oldest is None else min(self.oldest, t)
            self.newest = t if self.newest is None else max(self.newest, t)
        if self.example is None:
            text = _text(m.headers.get(F.H_EXC_MSG)) or m.undecodable or m.body_problem
            self.example = text[:300] if text else None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "oldest": iso(self.oldest), "newest": iso(self.newest)}


@dataclass
class QueueSummary:
    target: str
    queue: str
    depth: int
    scanned: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    flagged: int = 0
    groups: list[Group] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {**self.__dict__, "oldest": iso(self.oldest), "newest": iso(self.newest)}
        d["groups"] = [g.as_dict() for g in self.groups]
        return d


def summarize(
    target: str, queue: str, depth: int, msgs: Iterable[DeadLetter], flag: int
) -> QueueSummary:
    s = QueueSummary(target, queue, depth)
    groups: dict[str, Group] = {}
    for m in msgs:
        s.scanned += 1
        g = groups.get(m.group)
        if g is None:
            g = groups[m.group] = Group(m.group, m.exception_type, m.event_type, m.service)
        g.add(m, flag)
        s.flagged += m.flagged(flag)
        first, last = m.first_failure, m.last_failure
        if first is not None:
            s.oldest = first if s.oldest is None else min(s.oldest, first)
        if last is not None:
            s.newest = last if s.newest is None else max(s.newest, last)
    s.groups = sorted(groups.values(), key=lambda g: (-g.count, g.id))
    return s


async def peek(
    broker: Broker,
    queue: str,
    settings: DlqSettings,
    *,
    limit: int | None = None,
    selector: Selector | None = None,
) -> list[DeadLetter]:
    """The first `limit` messages (matching `selector`), left in place and in order."""
    out: list[DeadLetter] = []
    async with scanning(broker, queue, settings, keep_all=True) as scan:
        async for item in scan:
            await scan.keep(item)
            if limit is not None and len(out) >= limit:
                continue  # keep walking: only a whole walk leaves the order as it was
            if selector is None or selector.matches(item.message):
                out.append(item.message)
    return out


async def list_queues(settings: DlqSettings, targets: Iterable[str]) -> list[QueueSummary]:
    """Depth, oldest and newest failure and failure groups, for each target's queue."""
    out: list[QueueSummary] = []
    async with Broker(settings.amqp_url) as broker:
        for target in targets:
            queue = queue_of(target)
            try:
                depth = await broker.depth(queue)
                msgs = await peek(broker, queue, settings) if depth else []
            except DlqError as e:
                out.append(QueueSummary(target, queue, 0, error=str(e)))
                continue
            out.append(summarize(target, queue, depth, msgs, settings.dlq_flag_replays))
    return out


async def show(
    settings: DlqSettings, target: str, *, limit: int = 20, selector: Selector | None = None
) -> list[DeadLetter]:
    async with Broker(settings.amqp_url) as broker:
        return await peek(broker, queue_of(target), settings, limit=limit, selector=selector)


async def export(settings: DlqSettings, target: str, selector: Selector, out: TextIO) -> Outcome:
    """Write the selected messages as JSONL (the archive format), leaving them in place."""
    o = Outcome("export", queue_of(target), selector.describe(), who())
    async with Broker(settings.amqp_url) as broker:
        o.depth = await broker.depth(o.queue)
        for m in await peek(broker, o.queue, settings, limit=selector.limit, selector=selector):
            out.write(json.dumps(m.record(exported_at=iso(datetime.now(UTC))), default=str) + "\n")
            o.matched += 1
            o.done += 1
        o.scanned = o.depth
    out.flush()
    o.elapsed_s = time.monotonic() - o.started
    return o
