"""Settings of the availability service (env `DISTSYNC_AVAILABILITY_...`) on top of shared."""

from __future__ import annotations

from pydantic import Field

from availability.domain import DEFAULT_LOG_MAX
from shared.settings import ServiceSettings


class AvailabilitySettings(ServiceSettings):
    # on-hand movements kept per position since its latest count; older ones are folded into
    # the base, and a count older than what was folded is dead-lettered with that reason
    availability_movement_log_max: int = Field(default=DEFAULT_LOG_MAX, ge=10, le=10_000)
