"""The inbox: one document per processed message id, so a redelivery has no second effect.

An id is kept until its event time is older than DISTSYNC_INBOX_RETENTION_S, then purged
(`shared.retention`), and admission refuses deliveries that old, so a purged id is never
applied again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

INBOX = "inbox"
DUPLICATE_KEY = 11000
TIME_INDEX = "time_1"  # the event time, which the retention purge deletes by
LEGACY_TTL = "forget_ttl"  # the TTL index earlier releases expired ids with (see `setup`)
_GONE = (26, 27)  # NamespaceNotFound, IndexNotFound


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


async def setup(db: Any, index_correlation: bool = False, index_time: bool = True) -> None:
    """The inbox's indexes. `correlationid` is opt-in (every secondary index is paid on each
    message; `distsync trace` scans without it): DISTSYNC_INBOX_CORRELATION_INDEX=true where
    traces are frequent.

    `index_time` (DISTSYNC_INBOX_TTL, on by default): a plain index on the event time, by which
    the retention purge finds expired ids (`shared.retention`); without retention it is dropped,
    one index write per message fewer. Releases before the purge expired ids by a TTL index
    (`forget_ttl`, on the same field); it is replaced by the plain one at the first start."""
    if index_correlation:
        await db[INBOX].create_index("correlationid", sparse=True)
    names = [ix["name"] async for ix in await db[INBOX].list_indexes()]
    if LEGACY_TTL in names:
        await drop_index(db[INBOX], LEGACY_TTL)
    if index_time:
        await db[INBOX].create_index("time", name=TIME_INDEX)
    elif TIME_INDEX in names:
        await drop_index(db[INBOX], TIME_INDEX)


async def drop_index(coll: Any, name: str) -> None:
    """Drop an index; one another replica starting at the same moment dropped first is fine."""
    try:
        await coll.drop_index(name)
    except OperationFailure as e:
        if e.code not in _GONE:
            raise
