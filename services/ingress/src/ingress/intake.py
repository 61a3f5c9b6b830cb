"""Admitted events out to the broker, each id once: claim, publish with confirms, record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import HTTPException
from pymongo.errors import PyMongoError

from ingress import metrics, store
from ingress.admission import Admitted
from ingress.settings import IngressSettings
from shared.cloudevent import CloudEvent
from shared.logging import get_logger

log = get_logger("ingress.intake")

Publish = Callable[[str, CloudEvent], Awaitable[None]]


def unavailable(e: PyMongoError) -> HTTPException:
    return HTTPException(
        503,
        detail=f"the ingress's database is unavailable: {type(e).__name__}; send again",
        headers={"Retry-After": "5"},
    )


ACCEPTED = "accepted"
FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    id: str
    type: str
    status: str  # accepted, duplicate, in_flight, conflict, failed
    reason: str | None = None


REASONS = {
    store.DUPLICATE: None,
    store.IN_FLIGHT: "another request is publishing this id now: send it again to learn the "
    "outcome",
    store.CONFLICT: "this id was already accepted for a different event (type or data)",
}


async def take(
    publish: Publish,
    db: Any,
    settings: IngressSettings,
    admitted: Sequence[Admitted],
    channel: str,
) -> list[Outcome]:
    """Publish every admitted event whose id is new, with a broker confirm each, and record
    it; the answer per event, in order. An id repeated inside `admitted` is its own duplicate."""
    started = time.perf_counter()
    first: dict[str, Admitted] = {}
    for a in admitted:
        first.setdefault(a.event.id, a)
    claims = [store.Claim(i, store.digest(a.event.type, a.event.data)) for i, a in first.items()]
    try:
        states = await store.claim(
            db,
            claims,
            ttl=timedelta(seconds=settings.ingress_idempotency_ttl_s),
            lease=timedelta(seconds=settings.ingress_claim_lease_s),
        )
    except PyMongoError as e:
        raise unavailable(e) from e
    fresh = [a for i, a in first.items() if states[i] == store.NEW]
    results = await asyncio.gather(
        *(publish(a.exchange, a.event) for a in fresh), return_exceptions=True
    )
    done: dict[str, Outcome] = {}
    ok: list[str] = []
    bad: list[str] = []
    for a, r in zip(fresh, results, strict=True):
        ev = a.event
        if isinstance(r, BaseException):
            log.warning("ingress_publish_failed", id=ev.id, type=ev.type, error=repr(r)[:300])
            done[ev.id] = Outcome(ev.id, ev.type, FAILED, f"the broker did not take it: {r}")
            bad.append(ev.id)
        else:
            done[ev.id] = Outcome(ev.id, ev.type, ACCEPTED)
            ok.append(ev.id)
    try:
        await store.published(db, ok)
        await store.release(db, bad)
    except PyMongoError as e:  # published, but not recorded: a retry after the lease publishes
        raise unavailable(e) from e  # again, and the services' inboxes apply it once
    out: list[Outcome] = []
    seen: set[str] = set()
    for a in admitted:
        ev = a.event
        if ev.id in seen or ev.id not in done:
            state = states[ev.id] if ev.id not in seen else store.DUPLICATE
            o = Outcome(ev.id, ev.type, state, REASONS.get(state))
        else:
            o = done[ev.id]
        seen.add(ev.id)
        out.append(o)
        metrics.count(
            channel,
            a.system,
            "refused" if o.status in (store.CONFLICT, store.IN_FLIGHT) else o.status,
            o.status,
        )
    metrics.PUBLISH_SECONDS.labels(channel).observe(time.perf_counter() - started)
    return out
