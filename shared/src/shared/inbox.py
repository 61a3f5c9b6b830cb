"""The inbox: one document per processed message id, so a redelivery has no second effect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError

INBOX = "inbox"
DUPLICATE_KEY = 11000


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


async def setup(db: Any, index_correlation: bool = False) -> None:
    """The inbox's `_id` is its only index by default: every secondary index is paid on each
    message. `distsync trace` then scans for ingress events; set
    DISTSYNC_INBOX_CORRELATION_INDEX=true where traces are frequent."""
    if index_correlation:
        await db[INBOX].create_index("correlationid", sparse=True)
