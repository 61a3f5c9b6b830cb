"""replay: publish back (confirmed, `mandatory`), and only then ack from the DLQ."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from distsync_ops.dlq.admin import Admin, audited
from distsync_ops.dlq.broker import PUBLISH_ERRORS, Broker, _reason, amqp_properties
from distsync_ops.dlq.errors import UsageError
from distsync_ops.dlq.message import H_PREV_ATTEMPTS, DeadLetter
from distsync_ops.dlq.outcome import Outcome, Progress
from distsync_ops.dlq.scan import Item, scanning
from distsync_ops.dlq.selector import Selector, queue_of, who
from distsync_ops.dlq.settings import DlqSettings
from distsync_ops.dlq.values import _int
from shared import failures as F
from shared.dlq_message import dlx_of
from shared.retention import DedupHorizon, dedup_horizon
from shared.topology import UNROUTED, main_queue


def replay_headers(m: DeadLetter, user: str, now: datetime) -> dict[str, Any]:
    """Keep the failure history; count the replay; give the message its retries back."""
    h = {k: v for k, v in m.headers.items() if not str(k).startswith("x-")}
    h.setdefault(F.H_ORIG_EXCHANGE, m.original_exchange)
    h.setdefault(F.H_ORIG_KEY, m.original_routing_key)
    h[H_PREV_ATTEMPTS] = _int(h.get(H_PREV_ATTEMPTS)) + m.attempts
    h[F.H_ATTEMPTS] = 0
    h[F.H_REPLAY_COUNT] = m.replay_count + 1
    h[F.H_REPLAYED_BY] = user
    h[F.H_REPLAYED_AT] = F._iso(now)
    return h


class RateLimiter:
    """At most `rate` starts per second, evenly spaced: no burst after a stall."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next: float | None = None

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        start = now if self._next is None else max(self._next, now)
        if start > now:
            await asyncio.sleep(start - now)
        self._next = start + self.interval


@dataclass
class ReplayOptions:
    to: str | None = None  # another exchange (routing key unchanged)
    direct: bool = False  # straight to `<service>.main` (only that service sees it again)
    rate: float | None = None
    dry_run: bool = False
    force: bool = False  # replay flagged messages too
    beyond_horizon: bool = False  # replay messages older than the deduplication horizon too


def event_time(m: DeadLetter) -> datetime | None:
    """The CloudEvent `time` of the body, as the service will read it; None when the body has
    none it could read (the service refuses such a message whatever its age)."""
    ev = m.event
    t = ev.get("time") if ev is not None else None
    if not isinstance(t, str):
        return None
    try:
        parsed = datetime.fromisoformat(t)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def beyond_horizon(m: DeadLetter, horizon: DedupHorizon | None, now: datetime) -> bool:
    """Would the service refuse this message as `beyond_dedup_horizon` (shared.retention)?
    Replayed, it would only come back to the DLQ. A message that died longer ago than the
    horizon is always such a message: its event is older than its first failure."""
    t = event_time(m)
    return horizon is not None and t is not None and horizon.problem(t, now) is not None


def _back_into_dlq(exchange: str, key: str, queue: str) -> bool:
    """Would this target put the message straight back into the queue it is replayed from?"""
    dlx = dlx_of(queue)
    return bool(dlx and exchange == dlx) or (exchange, key) == ("", queue)


def replay_target(m: DeadLetter, opts: ReplayOptions) -> tuple[str, str]:
    if opts.direct:
        return "", main_queue(m.service)
    return (opts.to if opts.to is not None else m.original_exchange), m.original_routing_key


async def replay(
    settings: DlqSettings,
    target: str,
    selector: Selector,
    opts: ReplayOptions,
    *,
    user: str | None = None,
    progress: Progress | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Publish the selected messages back (confirmed, mandatory), then ack them from the DLQ."""
    o = outcome or Outcome("replay", "", {}, "")
    o.action, o.queue, o.selector, o.user = (
        "replay",
        queue_of(target),
        selector.describe(),
        who(user),
    )
    o.dry_run, o.target = opts.dry_run, "direct" if opts.direct else opts.to
    o.started = time.monotonic()
    if opts.direct and o.queue == UNROUTED:
        raise UsageError("--direct needs a service DLQ: unrouted messages have no service queue")
    adm = None if opts.dry_run else Admin(settings)
    try:
        async with Broker(settings.amqp_url) as broker:
            if adm is None:
                await _replay(broker, settings, selector, opts, o, progress)
            else:
                async with audited(adm, o):
                    await _replay(broker, settings, selector, opts, o, progress)
    finally:
        o.elapsed_s = time.monotonic() - o.started
        if adm is not None:
            await adm.close()
    return o


CHUNK = 250  # messages published and acked together


async def _replay(
    broker: Broker,
    settings: DlqSettings,
    selector: Selector,
    opts: ReplayOptions,
    o: Outcome,
    progress: Progress | None,
) -> None:
    limiter = RateLimiter(opts.rate)
    chunk_size = max(1, min(CHUNK, settings.dlq_inflight))
    if opts.rate:  # a paced replay sends each message as its turn comes
        chunk_size = 1
    slots = asyncio.Semaphore(max(1, settings.dlq_inflight // chunk_size))
    inflight: set[asyncio.Task[None]] = set()
    read_limit = selector.limit if selector.is_all else None
    horizon = dedup_horizon(settings)
    started = datetime.now(UTC)

    async with scanning(broker, o.queue, settings, limit=read_limit) as scan:
        o.depth = scan.depth

        async def send(chunk: list[tuple[Item, str, str]]) -> None:
            """Publish a chunk (confirmed), then ack from the DLQ what the broker confirmed."""
            try:
                now = datetime.now(UTC)
                ready: list[tuple[Item, str, str]] = []
                outgoing: list[tuple[str, str, bytes, Any]] = []
                for item, exchange, key in chunk:
                    m = item.message
                    try:
                        props = amqp_properties(m, replay_headers(m, o.user, now))
                    except (ValueError, TypeError) as e:
                        o.error(f"{m.event_id}: {_reason(e)}")
                        await scan.keep(item)
                        continue
                    ready.append((item, exchange, key))
                    outgoing.append((exchange, key, m.body, props))
                confirmed: list[Item] = []
                for (item, _, _), refused in zip(
                    ready, await broker.publish_many(outgoing), strict=True
                ):
                    if refused is None:
                        confirmed.append(item)
                    else:
                        o.error(f"{item.message.event_id}: {_reason(refused)}")
                        await scan.keep(item)
                try:
                    await scan.ack_many(confirmed)
                except PUBLISH_ERRORS as e:
                    for item in confirmed:
                        o.error(
                            f"{item.message.event_id}: replayed, but still in the DLQ too: "
                            f"{_reason(e)}"
                        )
                    return
                o.done += len(confirmed)
            finally:
                slots.release()

        chunk: list[tuple[Item, str, str]] = []

        async def flush() -> None:
            nonlocal chunk
            if not chunk:
                return
            await slots.acquire()
            t = asyncio.create_task(send(chunk))
            chunk = []
            inflight.add(t)
            t.add_done_callback(inflight.discard)

        try:
            async for item in scan:
                o.scanned = scan.seen
                m = item.message
                if not selector.matches(m):
                    await scan.keep(item)
                    continue
                if m.flagged(settings.dlq_flag_replays) and not opts.force:
                    o.skipped_flagged += 1
                    await scan.keep(item)
                    continue
                if not opts.beyond_horizon and beyond_horizon(m, horizon, started):
                    o.skipped_beyond_horizon += 1
                    await scan.keep(item)
                    continue
                o.matched += 1
                exchange, key = replay_target(m, opts)
                o.plan[f"{exchange or '(default exchange)'} -> {key}"] += 1
                if opts.dry_run:
                    await scan.keep(item)
                elif _back_into_dlq(exchange, key, o.queue):
                    o.error(
                        f"{m.event_id}: where it was first published is unknown (it would go "
                        "straight back into the DLQ): use --direct or --to, or archive it"
                    )
                    await scan.keep(item)
                elif not await broker.exchange_exists(exchange):
                    o.error(f"{m.event_id}: exchange {exchange!r} does not exist")
                    await scan.keep(item)
                else:
                    await limiter.wait()
                    chunk.append((item, exchange, key))
                    if len(chunk) >= chunk_size or scan.idle():
                        await flush()
                if progress is not None:
                    progress(o)
                if selector.limit is not None and o.matched >= selector.limit:
                    break
            await flush()
        finally:
            if inflight:  # confirmed publishes get acked; unconfirmed ones stay in the DLQ
                await asyncio.shield(asyncio.wait(set(inflight), timeout=60))
            o.scanned, o.renewed = scan.seen, scan.renewed
            if scan.broken is not None:
                o.error(f"stopped early, the DLQ channel closed: {_reason(scan.broken)}")
            if progress is not None:
                progress(o)
