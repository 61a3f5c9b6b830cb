"""The returns service's MongoDB collections, document conversion, indexes and read queries."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from returns.domain.pending import Pending
from returns.domain.state import Rma

RMAS = "rmas"
PENDING = "returns_pending"
# Statuses in which an RMA still expects units, so its authorization can lapse.
LAPSABLE = ("authorized", "partially_received", "inspected")


def rma_to_doc(rma: Rma) -> dict[str, Any]:
    """Top-level `status`, `lapsed` and `expires_at` (a BSON date) serve the expiry sweep."""
    return rma.model_dump(mode="python")


def rma_from_doc(doc: dict[str, Any] | None) -> Rma | None:
    return None if doc is None else Rma.model_validate(doc)


def pending_key(sku: str, location: str) -> str:
    """An unambiguous document key for business values that may hold any character."""
    return json.dumps([sku, location], separators=(",", ":"))


def pending_to_doc(p: Pending) -> dict[str, Any]:
    return p.model_dump(mode="python")


def pending_from_doc(doc: dict[str, Any] | None) -> Pending | None:
    return None if doc is None else Pending.model_validate(doc)


async def setup_store(db: Any) -> None:
    """Indexes: the sweep looks for lapsable RMAs by expiry."""
    await db[RMAS].create_index([("status", 1), ("expires_at", 1)], name="status_expires_at")
    await db[RMAS].create_index([("order_id", 1)], name="order_id")


async def load_rma(db: Any, rma_id: str) -> Rma | None:
    return rma_from_doc(await db[RMAS].find_one({"_id": rma_id}))


async def due_rma_ids(db: Any, now: datetime, limit: int) -> list[str]:
    """RMAs whose authorization has lapsed and that still wait for units, oldest first."""
    cursor = (
        db[RMAS]
        .find(
            {"status": {"$in": list(LAPSABLE)}, "lapsed": False, "expires_at": {"$lte": now}},
            {"_id": 1},
        )
        .sort("expires_at", 1)
        .limit(limit)
    )
    return [str(doc["_id"]) async for doc in cursor]
