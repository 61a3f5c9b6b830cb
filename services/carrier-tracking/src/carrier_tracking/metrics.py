"""carrier-tracking's Prometheus metrics (default registry); carrier labels are bounded."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from carrier_tracking.domain.carriers import KNOWN_CARRIERS, normalise_carrier

SCANS = Counter(
    "distsync_carrier_tracking_scans_total",
    "New (non-duplicate) carrier scans, by carrier and mapped milestone",
    ["carrier", "milestone"],
)
UNMAPPED_CODES = Counter(
    "distsync_carrier_tracking_unmapped_codes_total",
    "Scans whose native code is not in the carrier's mapping table",
    ["carrier"],
)
DUPLICATE_SCANS = Counter(
    "distsync_carrier_tracking_duplicate_scans_total",
    "Scans dropped as duplicates (same carrier, tracking number, code and scan time)",
    ["carrier"],
)
SHIPPED_TO_DELIVERED = Histogram(
    "distsync_carrier_tracking_shipped_to_delivered_seconds",
    "Time from shipment.shipped to the delivered scan (event times)",
    ["carrier"],
    buckets=[h * 3600 for h in (6, 12, 24, 36, 48, 72, 96, 120, 168, 240, 336, 504, 720)],
)
WEBHOOK_SIGNATURE_FAILURES = Counter(
    "distsync_carrier_tracking_webhook_signature_failures_total",
    "Webhook pushes refused: signature missing, invalid, or no secret configured",
    ["carrier", "reason"],
)
WEBHOOK_SKIPPED_SCANS = Counter(
    "distsync_carrier_tracking_webhook_skipped_scans_total",
    "Scans left out of accepted webhook pushes because they could not be read",
    ["carrier"],
)
WEBHOOK_EVENTS = Counter(
    "distsync_carrier_tracking_webhook_events_total",
    "tracking.reported events published from accepted webhook pushes",
    ["carrier"],
)


def carrier_label(carrier: str) -> str:
    """Known carriers by name, every other one as `other`, so labels stay few."""
    c = normalise_carrier(carrier)
    return c if c in KNOWN_CARRIERS else "other"
