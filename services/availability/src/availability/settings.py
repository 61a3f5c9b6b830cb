"""Settings of the availability service (env `DISTSYNC_AVAILABILITY_...`) on top of shared."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from availability.domain.position import DEFAULT_LOG_MAX, DEFAULT_LOG_WINDOW, MovementLog
from shared.settings import ServiceSettings, settings_as


class AvailabilitySettings(ServiceSettings):
    # POST /v1/availability/check bodies larger than this are refused with 413
    availability_check_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=64 * 1024**2)
    # on-hand movements kept per position since its latest count; older ones are folded into
    # the base, and a count older than what was folded is dead-lettered with that reason
    availability_movement_log_max: int = Field(default=DEFAULT_LOG_MAX, ge=10, le=10_000)
    # ... and those older than this many seconds before the position's newest movement, so a
    # position that is never counted does not carry (and rewrite) a long log on every event
    availability_movement_window_s: float = Field(
        default=DEFAULT_LOG_WINDOW.total_seconds(), ge=60, le=90 * 86400
    )

    def movement_log(self) -> MovementLog:
        """The log limits the domain applies to every position."""
        return MovementLog(
            self.availability_movement_log_max,
            timedelta(seconds=self.availability_movement_window_s),
        )


def settings_of(settings: object) -> AvailabilitySettings:
    """The settings the runtime passes down, typed; the defaults when none were given."""
    return settings_as(settings, AvailabilitySettings)
