"""The event stream on the wire: stamps each event with its time at the source, delivers it
through the fault layer (duplicates, reordering, bad messages) at the requested rate."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from distsync_sim.simulate.events import SimEvent
from distsync_sim.simulate.faults import BadFactory, BadMessage, Delivery, Outgoing
from distsync_sim.simulate.model import World
from distsync_sim.simulate.observe import Publisher
from shared.envelope import amqp_properties, build


@dataclass
class Counters:
    bootstrap: int = 0
    business: int = 0
    duplicates_sent: int = 0
    bad: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class Stream:
    def __init__(
        self,
        world: World,
        publisher: Publisher,
        *,
        seed: int,
        window: int,
        dup_rate: float,
        bad_rate: float,
        in_flight: int = 64,
    ) -> None:
        self.world = world
        self.pub = publisher
        self.rng = random.Random(seed * 7919 + 1)
        self.delivery = Delivery(self.rng, window, dup_rate)
        self.bad_rate = bad_rate
        self.bad_factory = BadFactory(
            random.Random(seed * 104729 + 3), [i.sku for i in world.items], world.ns
        )
        self.bad: list[BadMessage] = []
        self.log: dict[str, SimEvent] = {}
        self.published_at: dict[str, float] = {}  # first publish, wall clock
        self.go_live_ids: set[str] = set()  # the bulk load before live operation
        self.counters = Counters()
        self._sem = asyncio.Semaphore(in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_by_key: dict[str, asyncio.Task[None]] = {}
        self._last_ms = 0
        self.paused = asyncio.Event()
        self.paused.set()  # set: running

    def stamp(self, ev: SimEvent) -> None:
        if ev.same_time_as is not None and ev.same_time_as in self.log:
            ev.time = self.log[ev.same_time_as].time
        else:
            now_ms = time.time_ns() // 1_000_000
            self._last_ms = max(now_ms, self._last_ms + 1)
            ev.time = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=self._last_ms)
        self.log[ev.id] = ev
        self.counters.by_type[ev.type] = self.counters.by_type.get(ev.type, 0) + 1

    def _body(self, ev: SimEvent) -> tuple[bytes, dict[str, object]]:
        cached = ev.meta.get("wire")
        if cached is None:
            ce = build(
                ev.type,
                ev.data,
                source=ev.source,
                id=ev.id,
                time=ev.time,
                correlationid=ev.correlationid,
            )
            cached = ev.meta["wire"] = (ce.to_json_bytes(), amqp_properties(ce))
        body, props = cached
        return body, props

    async def _send(self, out: Outgoing) -> None:
        await self._sem.acquire()
        ev = out.event
        deps = [self._last_by_key[k] for k in ev.causal if k in self._last_by_key]
        task = asyncio.create_task(self._publish(out, deps))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        for k in ev.causal:
            self._last_by_key[k] = task

    async def _publish(self, out: Outgoing, deps: list[asyncio.Task[None]]) -> None:
        try:
            if deps:
                await asyncio.gather(*deps, return_exceptions=True)
            body, props = self._body(out.event)
            self.published_at.setdefault(out.event.id, time.time())
            await self.pub.publish(out.event.exchange, out.event.type, body, dict(props))
            if out.duplicate:
                self.counters.duplicates_sent += 1
        finally:
            self._sem.release()

    async def _send_bad(self, b: BadMessage) -> None:
        await self._sem.acquire()
        props: dict[str, object] = {"message_id": b.message_id, "delivery_mode": 2}

        async def go() -> None:
            try:
                await self.pub.publish(b.exchange, b.routing_key, b.body, props)
            finally:
                self._sem.release()

        task = asyncio.create_task(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def bootstrap(self, between: Callable[[], Awaitable[None]]) -> None:
        """The item master, then (once `between` says it is taken in) the opening balances: a
        quantity in cases needs the item's conversion first, and competing consumers (replicas)
        may take two messages in either order."""
        evs = self.world.bootstrap()
        phases = [
            [e for e in evs if e.type == "item.updated"],
            [e for e in evs if e.type != "item.updated"],
        ]
        for i, phase in enumerate(phases):
            if i:
                await between()
            for ev in phase:
                self.stamp(ev)
                self.counters.bootstrap += 1
                self.go_live_ids.add(ev.id)
                await self._send(Outgoing(ev))
            await self.settle()

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run(
        self,
        total: int,
        rate: float,
        duration: float | None,
        on_event: Callable[[int], Awaitable[None]],
        make_bad: Callable[[BadMessage], BadMessage],
    ) -> None:
        """Generate until `total` business events (go-live included) or `duration` seconds."""
        t0 = time.monotonic()
        sent = 0
        done = self.counters.bootstrap
        while done < total and (duration is None or time.monotonic() - t0 < duration):
            for ev in self.world.step():
                await self.paused.wait()
                self.stamp(ev)
                for out in self.delivery.push(ev):
                    await self._send(out)
                done += 1
                sent += 1
                self.counters.business += 1
                if self.bad_rate and self.rng.random() < self.bad_rate:
                    b = make_bad(self.bad_factory.make())
                    self.bad.append(b)
                    self.counters.bad += 1
                    await self._send_bad(b)
                await on_event(done)
                if rate > 0:
                    ahead = t0 + sent / rate - time.monotonic()
                    if ahead > 0.002:
                        await asyncio.sleep(ahead)
        for out in self.delivery.flush():
            await self._send(out)
        await self.settle()
