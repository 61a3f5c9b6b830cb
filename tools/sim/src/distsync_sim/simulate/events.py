"""What the simulator publishes: one business event as a source system would send it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ERP = "erp.events"
WMS = "wms.events"
CARRIER = "carrier.events"
COMMERCE = "commerce.events"


@dataclass
class SimEvent:
    """One event; `time` is set when it happens at its source (the emitter stamps it)."""

    seq: int
    id: str
    exchange: str
    type: str
    source: str
    data: dict[str, Any]
    correlationid: str | None = None
    # events sharing a causal key keep their relative order when delivery is shuffled
    causal: tuple[str, ...] = ()
    # a re-sent event carries the time of the one it repeats (carriers re-send scans)
    same_time_as: str | None = None
    time: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def event_id(namespace: uuid.UUID, n: int) -> str:
    """Deterministic per (run tag, seed, n): the same seed gives the same ids."""
    return str(uuid.uuid5(namespace, str(n)))
