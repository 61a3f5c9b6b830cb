"""The inbox forgets an applied id only once a duplicate of it would be refused anyway: its TTL
index follows the event-time window, is changed in place when the window changes, and is
dropped when retention is turned off. And past the window a duplicate is refused by admission,
before the inbox is asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import inbox
from shared.bounds import EventTimeWindow
from shared.envelope import EnvelopeError, build, parse
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def ttl_of(db: Any) -> int | None:
    async for ix in await db[inbox.INBOX].list_indexes():
        if ix["name"] == inbox.FORGET_TTL:
            assert dict(ix["key"]) == {"time": 1}
            return int(ix["expireAfterSeconds"])
    return None


async def test_the_ttl_follows_the_event_time_window(mongo: Any, db_name: str) -> None:
    db = mongo[db_name]
    await db.create_collection(inbox.INBOX)
    defaults = ServiceSettings()
    assert defaults.inbox_ttl
    horizon = inbox.forget_after_s(defaults.event_time_max_age_days)
    await inbox.setup(db, forget_after_s=horizon)
    assert await ttl_of(db) == int(defaults.event_time_max_age_days * 86400 + 86400)

    await inbox.setup(db, forget_after_s=inbox.forget_after_s(30))  # the window narrowed
    assert await ttl_of(db) == 31 * 86400
    await inbox.setup(db, forget_after_s=inbox.forget_after_s(30))  # a restart: unchanged
    assert await ttl_of(db) == 31 * 86400

    await inbox.setup(db, forget_after_s=None)  # DISTSYNC_INBOX_TTL=false
    assert await ttl_of(db) is None
    await inbox.setup(db, forget_after_s=None)
    assert await ttl_of(db) is None


def test_a_duplicate_that_outlived_its_inbox_record_is_refused_before_the_inbox() -> None:
    days = 30
    window = EventTimeWindow(max_age=timedelta(days=days), max_ahead=timedelta(hours=1))
    # the record of an event is deleted forget_after_s after its event time
    event_time = datetime.now(UTC) - timedelta(seconds=inbox.forget_after_s(days))
    body = build("inventory.adjusted", {"sku": "A"}, source="wms/x", time=event_time)
    with pytest.raises(EnvelopeError) as e:
        parse(body.to_json_bytes(), window=window)
    assert e.value.kind == "out_of_range"
