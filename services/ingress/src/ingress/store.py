"""The ingress's own collections: the ids it has accepted (idempotency, with a TTL) and the
reports of the files it has read."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException
from pymongo.errors import BulkWriteError, PyMongoError

from shared.cloudevent import encode

ACCEPTED = "accepted"  # {_id: event id, digest, state: pending|published, claimed_at, expires_at}
FILES = "files"  # one report per file content (kind + hash)
COUNTERS = "counters"  # control numbers of the X12 interchanges the ingress writes

DUPLICATE_KEY = 11000


async def setup_store(db: Any) -> None:
    await db[ACCEPTED].create_index("expires_at", expireAfterSeconds=0)
    await db[FILES].create_index([("received_at", -1)])


def digest(type_: str, data: Any) -> str:
    """What makes two events with one id the same event: their type and data. The time is left
    out, so a file read again later (its rows stamped anew) is still the same events."""
    return hashlib.sha256(type_.encode() + b"\x00" + encode(data)).hexdigest()


@dataclass(frozen=True)
class Claim:
    id: str
    digest: str


# outcome of a claim: the caller publishes `new` ones; the others are answered as they are
NEW, DUPLICATE, IN_FLIGHT, CONFLICT = "new", "duplicate", "in_flight", "conflict"


async def claim(
    db: Any, claims: Sequence[Claim], *, ttl: timedelta, lease: timedelta
) -> dict[str, str]:
    """Claims each id for publishing, once: `new` for the caller to publish, `duplicate` when it
    was published before, `in_flight` when another request is publishing it now, `conflict` when
    the id was used for another event. A claim left pending longer than `lease` (its publisher
    died) is taken over."""
    now = datetime.now(UTC)
    docs = [
        {
            "_id": c.id,
            "digest": c.digest,
            "state": "pending",
            "claimed_at": now,
            "expires_at": now + ttl,
        }
        for c in claims
    ]
    out = {c.id: NEW for c in claims}
    if not docs:
        return out
    taken: set[str] = set()
    try:
        await db[ACCEPTED].insert_many(docs, ordered=False)
    except BulkWriteError as e:
        for err in e.details.get("writeErrors", []):
            if err.get("code") != DUPLICATE_KEY:
                raise
            taken.add(docs[err["index"]]["_id"])
    if not taken:
        return out
    wanted = {c.id: c.digest for c in claims}
    async for doc in db[ACCEPTED].find({"_id": {"$in": sorted(taken)}}):
        i = doc["_id"]
        if doc.get("digest") != wanted[i]:
            out[i] = CONFLICT
        elif doc.get("state") == "published":
            out[i] = DUPLICATE
        elif doc["claimed_at"] < now - lease:
            res = await db[ACCEPTED].update_one(
                {"_id": i, "state": "pending", "claimed_at": doc["claimed_at"]},
                {"$set": {"claimed_at": now, "expires_at": now + ttl}},
            )
            out[i] = NEW if res.modified_count == 1 else IN_FLIGHT
        else:
            out[i] = IN_FLIGHT
    return out


async def published(db: Any, ids: Sequence[str]) -> None:
    if ids:
        await db[ACCEPTED].update_many(
            {"_id": {"$in": list(ids)}},
            {"$set": {"state": "published", "published_at": datetime.now(UTC)}},
        )


async def release(db: Any, ids: Sequence[str]) -> None:
    """Claims whose publish failed: free again, so the caller's retry publishes them."""
    if ids:
        await db[ACCEPTED].delete_many({"_id": {"$in": list(ids)}, "state": "pending"})


async def save_report(db: Any, report: dict[str, Any]) -> None:
    """One report per file content; a file received again adds to its history."""
    file_id = report["id"]
    body = {k: v for k, v in report.items() if k != "id"}
    await db[FILES].update_one(
        {"_id": file_id},
        {
            "$set": body,
            "$inc": {"times_received": 1},
            "$setOnInsert": {"first_received_at": body["received_at"]},
        },
        upsert=True,
    )


async def find_report(db: Any, file_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await db[FILES].find_one({"_id": file_id})
    if doc is None:
        return None
    doc["id"] = doc.pop("_id")
    return doc


async def next_control(db: Any, name: str) -> int:
    """The next X12 control number of this deployment (1, 2, ...; ISA13 holds 9 digits)."""
    try:
        doc = await db[COUNTERS].find_one_and_update(
            {"_id": name}, {"$inc": {"value": 1}}, upsert=True, return_document=True
        )
    except PyMongoError as e:
        raise HTTPException(
            503, detail=f"the ingress's database is unavailable: {type(e).__name__}; send again"
        ) from e
    return int(doc["value"]) % 10**9 or 1
