"""The inbox: one document per processed message id, so a redelivery has no second effect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

INBOX = "inbox"
DUPLICATE_KEY = 11000
FORGET_TTL = "forget_ttl"  # the TTL index on the event time (see `setup`)
FORGET_MARGIN_S = 86400  # clock skew between the services and the database, and then some
_OPTIONS_CONFLICT = (85, 86)  # IndexOptionsConflict, IndexKeySpecsConflict


class AlreadyApplied(Exception):
    """An id of the batch is in the inbox already: the batch must be redone with a read."""


async def seen(db: Any, ids: Sequence[str], session: Any) -> set[str]:
    """Which of `ids` were already applied (read inside the batch transaction)."""
    cur = db[INBOX].find({"_id": {"$in": list(ids)}}, {"_id": 1}, session=session)
    return {d["_id"] async for d in cur}


async def record(
    db: Any, entries: Sequence[tuple[str, str, datetime, str | None]], at: datetime, session: Any
) -> None:
    """Insert (id, type, event time, correlation id) rows; a racing replica gets a conflict,
    an id applied before raises AlreadyApplied."""
    if not entries:
        return
    docs = [
        {"_id": i, "type": t, "time": tm, "correlationid": c, "at": at} for i, t, tm, c in entries
    ]
    try:
        await db[INBOX].insert_many(docs, session=session)
    except DuplicateKeyError as e:
        raise AlreadyApplied(str(e)) from e
    except BulkWriteError as e:
        errors = e.details.get("writeErrors") or []
        if errors and all(w.get("code") == DUPLICATE_KEY for w in errors):
            raise AlreadyApplied(str(e)) from e
        raise


async def setup(
    db: Any, index_correlation: bool = False, forget_after_s: float | None = None
) -> None:
    """The inbox's indexes. `correlationid` is opt-in (every secondary index is paid on each
    message; `distsync trace` scans without it): DISTSYNC_INBOX_CORRELATION_INDEX=true where
    traces are frequent.

    `forget_after_s` (DISTSYNC_INBOX_TTL, on by default): a TTL index on the event time deletes
    an applied id once its event is older than that, which the runtime sets to the event-time
    window (DISTSYNC_EVENT_TIME_MAX_AGE_DAYS) plus a day. A duplicate arriving after its record
    is gone is older than the window and is refused as `out_of_range` before the inbox is
    asked, so forgetting never lets an event apply twice: the window is the redelivery horizon.
    Changing the window changes the index in place (collMod); None drops it (ids are kept
    forever)."""
    if index_correlation:
        await db[INBOX].create_index("correlationid", sparse=True)
    if forget_after_s is None:
        names = [ix["name"] async for ix in await db[INBOX].list_indexes()]
        if FORGET_TTL in names:
            await db[INBOX].drop_index(FORGET_TTL)
        return
    seconds = int(forget_after_s)
    try:
        await db[INBOX].create_index("time", expireAfterSeconds=seconds, name=FORGET_TTL)
    except OperationFailure as e:
        if e.code not in _OPTIONS_CONFLICT:
            raise
        await db.command(
            "collMod", INBOX, index={"name": FORGET_TTL, "expireAfterSeconds": seconds}
        )


def forget_after_s(event_time_max_age_days: float) -> float:
    """How long after its event time an applied id is kept: the event-time window and a margin."""
    return event_time_max_age_days * 86400 + FORGET_MARGIN_S
