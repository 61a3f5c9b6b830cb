"""The receipt service's settings: the shared runtime's, plus its own (env `DISTSYNC_RECEIPT_*`)."""

from __future__ import annotations

from pydantic import Field

from receipt.domain.policy import DEFAULT_TOLERANCE_PCT
from shared.settings import ServiceSettings, settings_as


class ReceiptSettings(ServiceSettings):
    receipt_default_tolerance_pct: float = Field(default=DEFAULT_TOLERANCE_PCT, ge=0)
    """Over-receipt tolerance (%) of a PO line whose release gives none."""


def settings_of(settings: object) -> ReceiptSettings:
    """The settings the runtime passes down, typed; the defaults when none were given."""
    return settings_as(settings, ReceiptSettings)
