"""carrier-tracking settings: the shared runtime's, plus the per-carrier webhook secrets."""

from __future__ import annotations

from pydantic import Field, field_validator

from carrier_tracking.domain.carriers import normalise_carrier
from carrier_tracking.webhook_auth import WebhookAuth
from shared.settings import ServiceSettings, settings_as


class CarrierTrackingSettings(ServiceSettings):
    """Env `DISTSYNC_CARRIER_TRACKING_WEBHOOK_SECRETS` is JSON: `{"ups": "...", "fedex": "..."}`,
    each carrier's secret or credential. `DISTSYNC_CARRIER_TRACKING_WEBHOOK_AUTH` is JSON too,
    how each carrier authenticates (no secrets): `{"fedex": {"scheme": "hmac", "header":
    "fdx-signature", "encoding": "base64"}}`; a carrier not in it uses the signed-body scheme.
    """

    carrier_tracking_webhook_secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    carrier_tracking_webhook_auth: dict[str, WebhookAuth] = Field(default_factory=dict)
    carrier_tracking_webhook_max_bytes: int = 1_048_576

    @field_validator("carrier_tracking_webhook_secrets")
    @classmethod
    def _carrier_keys(cls, v: dict[str, str]) -> dict[str, str]:
        return {normalise_carrier(k): s for k, s in v.items() if s}

    @field_validator("carrier_tracking_webhook_auth")
    @classmethod
    def _auth_keys(cls, v: dict[str, WebhookAuth]) -> dict[str, WebhookAuth]:
        return {normalise_carrier(k): a for k, a in v.items()}


def settings_of(settings: object) -> CarrierTrackingSettings:
    """The settings the runtime passes down, typed; the defaults when none were given."""
    return settings_as(settings, CarrierTrackingSettings)
