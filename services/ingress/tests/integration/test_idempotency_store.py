"""Claims on the real MongoDB wire: an id is published once, by one request at a time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ingress import store

pytestmark = pytest.mark.integration

TTL, LEASE = timedelta(days=1), timedelta(seconds=30)


@pytest.fixture
async def db(mongo, db_name):
    d = mongo[db_name]
    await store.setup_store(d)
    yield d
    await mongo.drop_database(db_name)


def c(i: str, digest: str = "d1") -> store.Claim:
    return store.Claim(i, digest)


async def test_an_id_is_new_once_then_in_flight_then_duplicate(db):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert await store.claim(db, [c(a), c(b)], ttl=TTL, lease=LEASE) == {a: "new", b: "new"}
    assert await store.claim(db, [c(a)], ttl=TTL, lease=LEASE) == {a: "in_flight"}
    await store.published(db, [a])
    await store.release(db, [b])
    assert await store.claim(db, [c(a), c(b)], ttl=TTL, lease=LEASE) == {a: "duplicate", b: "new"}


async def test_the_same_id_for_another_event_is_a_conflict(db):
    a = str(uuid.uuid4())
    await store.claim(db, [c(a)], ttl=TTL, lease=LEASE)
    await store.published(db, [a])
    assert await store.claim(db, [c(a, "other")], ttl=TTL, lease=LEASE) == {a: "conflict"}


async def test_a_claim_left_pending_past_its_lease_is_taken_over_once(db):
    a = str(uuid.uuid4())
    await store.claim(db, [c(a)], ttl=TTL, lease=LEASE)
    old = datetime.now(UTC) - timedelta(minutes=5)
    await db[store.ACCEPTED].update_one({"_id": a}, {"$set": {"claimed_at": old}})
    assert await store.claim(db, [c(a)], ttl=TTL, lease=LEASE) == {a: "new"}
    assert await store.claim(db, [c(a)], ttl=TTL, lease=LEASE) == {a: "in_flight"}


async def test_records_expire_by_a_ttl_index(db):
    info = await db[store.ACCEPTED].index_information()
    ttl = [v for v in info.values() if v.get("expireAfterSeconds") == 0]
    assert ttl and ttl[0]["key"] == [("expires_at", 1)]
