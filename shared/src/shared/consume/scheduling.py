"""The key-aware batch scheduler: which admitted messages form the next batch, and when it runs.

One batch runs whenever messages wait: it takes what arrived within `batch_wait_ms`, up to
`batch_size`. A further batch starts beside running ones only when a full batch of messages
waits (a backlog), so under light load there is one transaction at a time and the latency of
one, and under a backlog the database's work on one batch overlaps this process's Python on
another. No two batches in flight share a document the route's `preload` names, and a message
waits behind an earlier one that shares a document with it, so one aggregate's messages are
applied in delivery order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from shared.consume.admission import Parsed
from shared.logging import get_logger

log = get_logger("shared.consumer")

Batch = list[Parsed]


class BatchScheduler:
    """Forms batches from the pending messages and runs up to `lanes` of them at once."""

    def __init__(
        self,
        name: str,
        settings: Any,
        run: Callable[[Batch], Awaitable[None]],
        give_back: Callable[[Batch], Awaitable[None]],
    ) -> None:
        self.name = name
        self.settings = settings
        self._run = run  # processes one batch: commit, route failures, ack
        self._give_back = give_back  # returns a crashed batch's unsettled messages to the broker
        self.pending: Batch = []  # admitted, not yet in a batch, in delivery order
        self.wake = asyncio.Event()  # a message arrived or a batch finished
        self.held: dict[str, int] = {}  # keys of the batches in flight
        self.running: set[asyncio.Task[None]] = set()
        self.stopping = False
        self._full_retry_at = 0  # pending length at which to try a full batch again

    def offer(self, p: Parsed) -> None:
        self.pending.append(p)
        self.wake.set()

    def withdraw(self, match: Callable[[Any], bool]) -> Batch:
        """The pending messages whose delivery matches (a partition given up), taken out."""
        out = [p for p in self.pending if match(p.message)]
        if out:
            self.pending = [p for p in self.pending if not match(p.message)]
        return out

    def take_all(self) -> Batch:
        """Every message no batch has taken yet (to give back on shutdown)."""
        waiting, self.pending = self.pending, []
        return waiting

    async def run(self) -> None:
        """Form batches and run them until stopped."""
        loop = asyncio.get_running_loop()
        wait_s = self.settings.batch_wait_ms / 1000
        size = max(1, self.settings.batch_size)
        most = max(1, self.settings.lanes)
        while not self.stopping:
            await self.wake.wait()
            self.wake.clear()
            while self.pending and len(self.running) < most and not self.stopping:
                if self.running:
                    if len(self.pending) < max(size, self._full_retry_at):
                        break
                    batch = self.take(size, full_only=True)
                    if batch is None:  # held back by the batches in flight: try again later
                        self._full_retry_at = len(self.pending) + max(1, size // 4)
                        break
                else:
                    deadline = loop.time() + wait_s
                    while len(self.pending) < size and (left := deadline - loop.time()) > 0:
                        self.wake.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.wake.wait(), left)
                    if self.stopping:
                        break
                    batch = self.take(size, full_only=False)
                    if not batch:
                        break
                self._launch(batch)

    def take(self, size: int, *, full_only: bool) -> Batch | None:
        """The next batch from the pending messages, in delivery order, skipping any message
        that shares a key with a batch in flight or with a message skipped before it; None
        when `full_only` and fewer than `size` could be taken."""
        held = self.held
        skipped: set[str] = set()  # keys of the messages left behind
        batch: Batch = []
        rest: Batch = []
        pending = self.pending
        for i, p in enumerate(pending):
            if len(batch) >= size:
                rest.extend(pending[i:])
                break
            if (held or skipped) and any(k in held or k in skipped for k in p.keys):
                skipped.update(p.keys)
                rest.append(p)
            else:
                batch.append(p)
        if full_only and len(batch) < size:
            return None
        self.pending = rest
        return batch

    def _launch(self, batch: Batch) -> None:
        keys = [k for p in batch for k in p.keys]
        for k in keys:
            self.held[k] = self.held.get(k, 0) + 1
        self._full_retry_at = 0
        task = asyncio.create_task(self._run_batch(batch, keys), name=f"{self.name}-batch")
        self.running.add(task)

    async def _run_batch(self, batch: Batch, keys: list[str]) -> None:
        try:
            await self._run(batch)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # never lose a batch: give it back to the broker
            log.error("batch_crashed", error=repr(e), exc_info=True)
            await self._give_back(batch)
            await asyncio.sleep(0.5)
        finally:
            for k in keys:
                n = self.held.get(k, 0) - 1
                if n > 0:
                    self.held[k] = n
                else:
                    self.held.pop(k, None)
            task = asyncio.current_task()
            if task is not None:
                self.running.discard(task)
            self._full_retry_at = 0
            self.wake.set()
