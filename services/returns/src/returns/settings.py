"""Settings of the returns service (env `DISTSYNC_RETURNS_...`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings

SWEEP_INTERVAL_S = 60.0
SWEEP_BATCH = 500


class ReturnsSettings(ServiceSettings):
    returns_expiry_sweep_interval_s: float = Field(default=SWEEP_INTERVAL_S, gt=0)
    returns_expiry_sweep_batch: int = Field(default=SWEEP_BATCH, gt=0)
