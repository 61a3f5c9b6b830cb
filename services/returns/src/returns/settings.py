"""Settings of the returns service (env `DISTSYNC_RETURNS_...`), on top of the shared ones."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings, settings_as


class ReturnsSettings(ServiceSettings):
    # the expiry sweep runs at most this often, and lapses at most this many RMAs a run
    returns_expiry_sweep_interval_s: float = Field(default=60.0, gt=0)
    returns_expiry_sweep_batch: int = Field(default=500, gt=0)


def settings_of(settings: object) -> ReturnsSettings:
    """The settings the runtime passes down, typed; the defaults when none were given."""
    return settings_as(settings, ReturnsSettings)
