"""The expiry sweep: lapses RMAs past `expires_at`; safe with several replicas running it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import structlog

from returns import metrics, store
from returns.handlers import expire
from returns.settings import SWEEP_BATCH, SWEEP_INTERVAL_S
from shared.envelope import now as utc_now
from shared.service import TaskContext
from shared.uow import UnitOfWork

log = structlog.get_logger(__name__)

# How often the runtime wakes the sweep; it runs at most every
# `returns_expiry_sweep_interval_s` seconds (a setting, read at run time).
TICK_S = 5.0


class ExpirySweep:
    """Finds due RMAs by query, then expires each in its own transaction after re-reading it.

    Two replicas may pick the same RMA: the second one's transaction re-reads it (or hits a
    write conflict and is retried), finds it no longer due and does nothing.
    """

    def __init__(
        self,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._last_run: float | None = None

    async def __call__(self, ctx: TaskContext) -> None:
        interval = float(getattr(ctx.settings, "returns_expiry_sweep_interval_s", SWEEP_INTERVAL_S))
        tick = self._monotonic()
        if self._last_run is not None and tick - self._last_run < interval:
            return
        self._last_run = tick
        await self.run_once(ctx)

    async def run_once(self, ctx: TaskContext) -> int:
        """One pass; returns how many RMAs this replica lapsed."""
        now = self._clock()
        limit = int(getattr(ctx.settings, "returns_expiry_sweep_batch", SWEEP_BATCH))
        done = 0
        for rma_id in await store.due_rma_ids(ctx.db, now, limit):
            lapsed: list[bool] = []

            async def step(uow: UnitOfWork, rma_id: str = rma_id, out: list[bool] = lapsed) -> None:
                out.append(await expire(uow, rma_id, now))

            try:
                await ctx.run_in_transaction(step)
            except Exception as e:  # one bad RMA must not stop the others
                metrics.SWEEP.labels(outcome="error").inc()
                log.warning("returns_expiry_failed", rma_id=rma_id, error=repr(e))
                continue
            outcome = "lapsed" if lapsed and lapsed[-1] else "skipped"
            metrics.SWEEP.labels(outcome=outcome).inc()
            done += outcome == "lapsed"
        if done:
            log.info("returns_expiry_swept", lapsed=done)
        return done
