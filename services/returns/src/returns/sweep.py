"""The expiry sweep: lapses RMAs past `expires_at`; safe with several replicas running it."""

from __future__ import annotations

import time
from datetime import datetime

import structlog

from returns import metrics, store
from returns.handlers import expire
from returns.settings import settings_of
from shared.envelope import now as utc_now
from shared.service import TaskContext
from shared.uow import UnitOfWork

log = structlog.get_logger(__name__)

# How often the runtime wakes the sweep; it runs at most every
# `returns_expiry_sweep_interval_s` seconds (a setting, read at run time).
TICK_S = 5.0


class ExpirySweep:
    """The periodic task: runs `run_once` when the configured interval has passed."""

    def __init__(self) -> None:
        self._last_run: float | None = None

    async def __call__(self, ctx: TaskContext) -> None:
        interval = settings_of(ctx.settings).returns_expiry_sweep_interval_s
        if self.due(time.monotonic(), interval):
            await run_once(ctx, utc_now())

    def due(self, tick: float, interval: float) -> bool:
        """Whether `interval` seconds have passed since the last run (monotonic `tick`); a
        run is counted from here when they have."""
        if self._last_run is not None and tick - self._last_run < interval:
            return False
        self._last_run = tick
        return True


async def run_once(ctx: TaskContext, now: datetime) -> int:
    """One pass: finds due RMAs by query, then expires each in its own transaction after
    re-reading it. Two replicas may pick the same RMA: the second one's transaction re-reads it
    (or hits a write conflict and is retried), finds it no longer due and does nothing. Returns
    how many RMAs this replica lapsed."""
    limit = settings_of(ctx.settings).returns_expiry_sweep_batch
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
