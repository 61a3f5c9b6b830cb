"""A process killed inside a transaction leaves it open; the next process aborts it at once
instead of every writer stalling on write conflicts until the database's 60 s limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from shared.sessions import COLLECTION, SessionRegistry

pytestmark = pytest.mark.integration

KILLED_MID_TRANSACTION = """
import asyncio, os, signal
from shared.runtime import mongo_client
from shared.sessions import SessionRegistry

async def main():
    client = mongo_client({url!r})
    db = client[{db!r}]
    reg = SessionRegistry("t", client, db)
    await reg.start()
    session = client.start_session()
    await reg.track(session)
    await session.start_transaction()
    await db.docs.update_one({{"_id": "x"}}, {{"$set": {{"v": 1}}}}, upsert=True, session=session)
    os.kill(os.getpid(), signal.SIGKILL)  # no abort, no commit, no goodbye

asyncio.run(main())
"""


async def write_in_transaction(client: Any, db: Any) -> None:
    async with client.start_session() as s, await s.start_transaction():
        await db.docs.update_one({"_id": "x"}, {"$set": {"v": 2}}, upsert=True, session=s)


async def test_the_next_process_aborts_what_a_killed_one_left_open(
    mongodb_url: str, mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    await db.docs.insert_one({"_id": "x", "v": 0})
    code = textwrap.dedent(KILLED_MID_TRANSACTION.format(url=mongodb_url, db=db_name))
    proc = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert proc.returncode == -9
    with pytest.raises(OperationFailure) as e:  # the dead transaction still holds "x"
        await write_in_transaction(mongo, db)
    assert e.value.code == 112
    reg = SessionRegistry("t", mongo, db)
    await reg.start()  # what a restarted process does before consuming
    try:
        await write_in_transaction(mongo, db)
        assert (await db.docs.find_one({"_id": "x"}))["v"] == 2
        assert await db[COLLECTION].count_documents({}) == 1  # only the live process is left
    finally:
        await reg.stop()


async def test_a_live_process_on_this_host_is_left_alone(mongo: Any, db_name: str) -> None:
    db = mongo[db_name]
    a = SessionRegistry("t", mongo, db)
    await a.start()
    other = {"_id": "other", "host": a.host, "pid": 1, "heartbeat_at": None, "lsids": []}
    try:
        assert a._dead({**other, "heartbeat_at": _now()}, _now()) is False  # pid 1 is alive
        assert a._dead({**other, "pid": a.pid, "heartbeat_at": _now()}, _now()) is True
        assert a._dead({**other, "host": "elsewhere", "heartbeat_at": _now()}, _now()) is False
        stale = _now().replace(year=2000)
        assert a._dead({**other, "host": "elsewhere", "heartbeat_at": stale}, _now()) is True
    finally:
        await a.stop()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
