"""Helpers of the failover tests: publishing that survives a node going away, progress probes."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from typing import cast

from prometheus_client import REGISTRY

from shared.endpoints import MultiEndpointConnection
from shared.errors import Unpublishable, UnroutableError
from shared.messaging import Outgoing, Publisher


def on_node(connection: object) -> int:
    """The index (in the cluster's node order) of the node a comma-list connection is on."""
    return cast(MultiEndpointConnection, connection).endpoint_index


async def publish_all(publisher: Publisher, items: Sequence[Outgoing], timeout: float = 90) -> int:
    """Publish `items` with confirms, sending again whatever was not confirmed (its node went
    away mid-flight; the consumer's inbox drops a second copy). Returns how many were resent."""
    pending, resent = list(items), 0
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(pending)} messages not confirmed within {timeout} s")
        try:
            outcomes: list[BaseException | None] = await asyncio.wait_for(
                publisher.publish_many(pending), 15
            )
        except Exception as e:  # the channel is gone or reopening: all of them again
            outcomes = [e] * len(pending)
        for err in outcomes:
            if isinstance(err, UnroutableError | Unpublishable):
                raise err
        failed = [it for it, err in zip(pending, outcomes, strict=True) if err is not None]
        if failed:
            resent += len(failed)
            await asyncio.sleep(0.2)  # back off before the next attempt, not a wait for a state
        pending = failed
    return resent


def consumed(service: str) -> float:
    """Messages the service has taken from its queue so far (its Prometheus counter)."""
    total = 0.0
    for family in REGISTRY.collect():
        if family.name == "distsync_messages_consumed":
            for s in family.samples:
                if s.name.endswith("_total") and s.labels.get("service") == service:
                    total += s.value
    return total


class Progress:
    """Samples a counter in the background; `longest_pause` is the longest time it stood still."""

    def __init__(self, read: Callable[[], float], interval: float = 0.05) -> None:
        self._read = read
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Progress:
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), self._read()))
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def moved_since(self, t: float) -> float | None:
        """When the counter first rose after time `t`, if it has."""
        before = [v for at, v in self.samples if at <= t]
        base = before[-1] if before else 0.0
        return next((at for at, v in self.samples if at > t and v > base), None)

    def longest_pause(self, start: float, end: float) -> float:
        """The longest time between two rises of the counter within [start, end]."""
        rises = [start]
        last = None
        for at, v in self.samples:
            if last is not None and v > last and start <= at <= end:
                rises.append(at)
            last = v
        rises.append(end)
        return max(b - a for a, b in itertools.pairwise(rises))
