"""carrier-tracking settings: the shared runtime's, plus the per-carrier webhook secrets."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from carrier_tracking.carriers import normalise_carrier
from shared.settings import ServiceSettings


class CarrierTrackingSettings(ServiceSettings):
    """Env `DISTSYNC_CARRIER_TRACKING_WEBHOOK_SECRETS` is JSON: `{"ups": "...", "fedex": "..."}`."""

    carrier_tracking_webhook_secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    carrier_tracking_webhook_max_bytes: int = 1_048_576

    @field_validator("carrier_tracking_webhook_secrets")
    @classmethod
    def _carrier_keys(cls, v: dict[str, str]) -> dict[str, str]:
        return {normalise_carrier(k): s for k, s in v.items() if s}


def webhook_secrets(settings: Any) -> dict[str, str]:
    """The secrets from whatever settings object the runtime passes (none: no webhooks)."""
    secrets = getattr(settings, "carrier_tracking_webhook_secrets", None) or {}
    return {normalise_carrier(k): s for k, s in secrets.items() if s}


def webhook_max_bytes(settings: Any) -> int:
    return int(getattr(settings, "carrier_tracking_webhook_max_bytes", 1_048_576))
