"""The unit of work's writes against the real database: inserts for documents read as absent,
and a racing insert from another transaction reported as a retryable conflict."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo.errors import OperationFailure

from shared.consumer import is_transient
from shared.mongo_uow import MongoUnitOfWork, flush

pytestmark = pytest.mark.integration


async def test_a_read_absent_document_is_inserted_and_an_existing_one_replaced(mongo, db_name):
    db = mongo[db_name]
    await db["things"].insert_one({"_id": "old", "n": 1})
    async with mongo.start_session() as s:
        async with await s.start_transaction():
            uow = MongoUnitOfWork("t", db, s)
            await uow.preload({"things": {"old", "new"}})
            assert uow.known_absent("things", "new") and not uow.known_absent("things", "old")
            uow.put("things", "old", {"n": 2})
            uow.put("things", "new", {"n": 1})
            uow.put("things", "blind", {"n": 9})  # never read: an upsert
            await flush(uow, db, s, datetime.now(UTC))
    docs = {d["_id"]: d["n"] async for d in db["things"].find({})}
    assert docs == {"old": 2, "new": 1, "blind": 9}


async def test_an_insert_raced_by_another_transaction_is_a_transient_conflict(mongo, db_name):
    db = mongo[db_name]
    await db.create_collection("things")
    async with mongo.start_session() as s:
        with pytest.raises(OperationFailure) as info:
            async with await s.start_transaction():
                uow = MongoUnitOfWork("t", db, s)
                assert await uow.get("things", "k") is None  # absent in this snapshot
                # another replica inserts the same document and commits first
                await db["things"].insert_one({"_id": "k", "n": 5})
                uow.put("things", "k", {"n": 1})
                await flush(uow, db, s, datetime.now(UTC))
    assert is_transient(info.value), info.value
    assert (await db["things"].find_one({"_id": "k"}))["n"] == 5
