"""A replica's share of the partitions: single-active-consumer subscriptions, and the balance.

Every replica subscribes to every partition queue, each on a channel of its own. The broker
delivers a partition to one of them at a time (single active consumer); when that replica's
channel goes (a crash, a scale-in), the broker returns its unacked messages to the head of the
queue and makes the next subscriber active at once, so a partition moves to a survivor without
waiting for anyone to notice.

Spreading is the replicas' own: each counts the replicas (the consumers of
`replicas_queue(service)`) and the partitions it received from lately. One that holds more than
its fair share gives the surplus away: it stops taking that partition's messages, finishes the
ones in its batches, closes the partition's channel (the broker returns the rest to the head of
the queue, in order, and makes the next subscriber active) and subscribes again, at the back of
the line. No two replicas ever hold a partition's messages at once, so one aggregate's messages
are applied in delivery order across replicas."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection

from shared.acks import Settler
from shared.logging import get_logger
from shared.metrics import PARTITION_HANDOFFS, PARTITIONS_HELD
from shared.topology import partition_queue, replicas_queue

log = get_logger("shared.partitions")

ACTIVE_WINDOW_S = 5.0  # a partition that delivered within this long counts as held


@dataclass
class _Sub:
    channel: AbstractRobustChannel
    releasing: bool = False
    withheld: set[int] = field(default_factory=set)  # tags left for the broker to return


class PartitionSet:
    """The partition subscriptions of one replica of one service."""

    def __init__(
        self,
        service: str,
        settings: Any,
        connection: AbstractRobustConnection,
        acks: Settler,
        deliver: Callable[[AbstractIncomingMessage], Awaitable[None]],
        withdraw: Callable[[Callable[[AbstractIncomingMessage], bool]], list[Any]],
        count: int,
    ) -> None:
        self.service = service
        self.settings = settings
        self.connection = connection
        self.count = count
        self._acks = acks
        self._deliver = deliver  # admits a delivery into the batches
        self._withdraw = withdraw  # takes matching messages out of the batches' pending list
        self._subs: dict[int, _Sub] = {}
        self._last: dict[int, float] = {}  # partition -> when it last delivered to us
        self._members: AbstractRobustChannel | None = None
        self._probe: AbstractRobustChannel | None = None
        self._balancer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one hand-off at a time
        self.stopping = False

    async def start(self) -> None:
        self._members = await self.connection.channel()
        # ensure=True: a queue the robust channel knows, so its consumer comes back after a
        # reconnect (aio-pika restores only declared queues, not get_queue(ensure=False) ones)
        q = await self._members.get_queue(replicas_queue(self.service), ensure=True)
        await q.consume(_ignore)
        self._probe = await self.connection.channel()
        for i in range(self.count):
            await self._subscribe(i)
        self._balancer = asyncio.create_task(self._balance_loop(), name=f"{self.service}-bal")

    def held(self) -> list[int]:
        """Partitions that delivered to this replica lately (an idle one may be ours too)."""
        now = asyncio.get_running_loop().time()
        return sorted(i for i, t in self._last.items() if now - t < ACTIVE_WINDOW_S)

    async def _subscribe(self, i: int) -> None:
        ch = await self.connection.channel()
        per = max(self.settings.batch_size, math.ceil(self.settings.prefetch / self.count))
        await ch.set_qos(prefetch_count=per)
        sub = _Sub(ch)
        self._subs[i] = sub
        loop = asyncio.get_running_loop()

        async def on_message(m: AbstractIncomingMessage) -> None:
            self._acks.received(m)
            if sub.releasing or self.stopping:  # returned by the broker when the channel closes
                sub.withheld.add(m.delivery_tag or 0)
                return
            self._last[i] = loop.time()
            await self._deliver(m)

        q = await ch.get_queue(partition_queue(self.service, i), ensure=True)  # restored too
        await q.consume(on_message)

    async def release(self, i: int, reason: str) -> None:
        """Give partition `i` up: finish its messages in batches, leave the rest to the broker
        (closing the channel returns them to the head of the queue), so the next replica in
        line starts exactly where this one stopped."""
        sub = self._subs.pop(i, None)
        if sub is None:
            return
        sub.releasing = True
        self._last.pop(i, None)
        raw = await sub.channel.get_underlay_channel()  # after a reconnect, the new one
        for p in self._withdraw(lambda m: m.channel is raw):
            sub.withheld.add(p.message.delivery_tag or 0)
        deadline = asyncio.get_running_loop().time() + self.settings.shutdown_grace_s
        while self._acks.outstanding(raw) - sub.withheld or self._acks.sending(raw):
            if asyncio.get_running_loop().time() > deadline:
                log.warning("partition_release_timed_out", service=self.service, partition=i)
                break
            await asyncio.sleep(0.01)
        with contextlib.suppress(Exception):
            await sub.channel.close()
        PARTITION_HANDOFFS.labels(self.service, reason).inc()
        log.info(
            "partition_released",
            service=self.service,
            partition=i,
            reason=reason,
            returned=len(sub.withheld),
        )

    async def replicas(self) -> int:
        """How many replicas consume the service now (the consumers of its replicas queue)."""
        if self._probe is None or self._probe.is_closed:
            self._probe = await self.connection.channel()
        raw = await self._probe.get_underlay_channel()
        ok = await raw.queue_declare(replicas_queue(self.service), passive=True)
        return max(1, int(ok.consumer_count or 0))

    async def balance(self) -> list[int]:
        """Give away the partitions held beyond this replica's fair share; returns them."""
        async with self._lock:
            fair = math.ceil(self.count / await self.replicas())
            held = self.held()
            PARTITIONS_HELD.labels(self.service).set(len(held))
            surplus = held[fair:] if len(held) > fair else []
            for i in surplus:
                await self.release(i, "balance")
                if not self.stopping:
                    await self._subscribe(i)  # at the back of the line: the next one takes it
            return surplus

    async def _balance_loop(self) -> None:
        while not self.stopping:
            await asyncio.sleep(self.settings.partition_balance_s)
            try:
                moved = await self.balance()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("partition_balance_failed", service=self.service, error=repr(e))
                continue
            if moved:
                log.info("partitions_given_away", service=self.service, partitions=moved)

    async def stop(self) -> None:
        """Hand every partition on (a scale-in drains before it leaves), then leave."""
        self.stopping = True
        if self._balancer is not None:
            self._balancer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._balancer
        async with self._lock:
            await asyncio.gather(*(self.release(i, "stop") for i in list(self._subs)))
        for ch in (self._members, self._probe):
            if ch is not None:
                with contextlib.suppress(Exception):
                    await ch.close()
        PARTITIONS_HELD.labels(self.service).set(0)


async def _ignore(m: AbstractIncomingMessage) -> None:
    """The replicas queue never receives a message; one that arrives is put back."""
    with contextlib.suppress(Exception):
        await m.nack(requeue=True)
