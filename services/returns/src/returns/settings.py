"""Settings of the returns service (env `DISTSYNC_RETURNS_...`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field
from shared.settings import ServiceSettings


class ReturnsSettings(ServiceSettings):
    returns_expiry_sweep_interval_s: float = Field(default=60.0, gt=0)
    returns_expiry_sweep_batch: int = Field(default=500, gt=0)
