"""The ingress's Prometheus metrics (default registry); labels are bounded, never ids."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from ingress.domain.systems import SYSTEM_EXCHANGES

EVENTS = Counter(
    "distsync_ingress_events_total",
    "Events offered to the ingress, by channel (http, file, edi), source system, outcome "
    "(accepted, duplicate, refused, failed) and reason (a failure kind, or the outcome)",
    ["channel", "source", "outcome", "reason"],
)
FILES = Counter(
    "distsync_ingress_files_total",
    "Files read, by kind, channel (upload, drop) and outcome (done: every row accepted; "
    "partial: some refused; failed: unreadable or nothing accepted)",
    ["kind", "channel", "outcome"],
)
PUBLISH_SECONDS = Histogram(
    "distsync_ingress_publish_seconds",
    "From an admitted request to every event confirmed by the broker",
    ["channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def source_label(system: str | None) -> str:
    return system if system in SYSTEM_EXCHANGES else "other"


def count(channel: str, system: str | None, outcome: str, reason: str, n: int = 1) -> None:
    if n:
        EVENTS.labels(channel, source_label(system), outcome, reason).inc(n)
