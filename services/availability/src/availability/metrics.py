"""Prometheus metrics of the availability service; incremented only after a commit."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

POSITIONS_CHANGED = Counter(
    "distsync_availability_positions_changed_total",
    "Positions whose numbers changed (one availability.changed each), by consumed event type",
    ["event_type"],
)
OVERSELL_ATTEMPTS = Counter(
    "distsync_availability_oversell_attempts_total",
    "Allocations larger than the position's available_to_sell at the time they were applied",
    ["location"],
)
OVERSELL_UNITS = Counter(
    "distsync_availability_oversell_units_total",
    "Base units allocated beyond available_to_sell",
    ["location"],
)
COUNT_VARIANCE = Histogram(
    "distsync_availability_count_variance_units",
    "Absolute difference between a cycle count and the expected on-hand, in base units",
    ["location"],
    buckets=(0, 1, 2, 5, 10, 25, 50, 100, 250, 1000, 10000),
)
EVENT_LAG = Histogram(
    "distsync_availability_event_lag_seconds",
    "Arrival time minus event time of consumed events",
    ["event_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600, 86400),
)
