"""The inbox forgets an applied id only once a duplicate of it would be refused anyway: buckets
are dropped whole after the retention, the single inbox an upgrade finds is purged by a plain
index on the event time (the TTL indexes of earlier releases are replaced at start), and past
the deduplication horizon a duplicate is refused by admission, before the inbox is asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from shared import inbox, outbox, retention
from shared.consume.admission import Admission
from shared.envelope import build
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration


async def indexes(coll: Any) -> dict[str, dict[str, Any]]:
    return {ix["name"]: dict(ix) async for ix in await coll.list_indexes()}


async def test_start_replaces_the_ttl_indexes_of_earlier_releases_with_plain_ones(
    mongo: Any, db_name: str
) -> None:
    db = mongo[db_name]
    await db[inbox.INBOX].create_index("time", expireAfterSeconds=3651 * 86400, name="forget_ttl")
    await db[outbox.OUTBOX].create_index("sent_at", expireAfterSeconds=7 * 86400, name="sent_ttl")

    for _ in range(2):  # a restart changes nothing
        await inbox.Inbox.of(db, ServiceSettings()).setup()
        await outbox.setup(db)
        ix = await indexes(db[inbox.INBOX])  # the legacy inbox: purged by its time index
        assert "forget_ttl" not in ix and dict(ix[inbox.TIME_INDEX]["key"]) == {"time": 1}
        ox = await indexes(db[outbox.OUTBOX])
        assert "sent_ttl" not in ox
        assert not [i for i in (*ix.values(), *ox.values()) if "expireAfterSeconds" in i]
        buckets = [n for n in await inbox.collections(db) if n != inbox.INBOX]
        assert len(buckets) == 1  # the current one, ready before the first batch
        assert list(await indexes(db[buckets[0]])) == ["_id_"]  # no index on the time

    # DISTSYNC_INBOX_TTL=false: every id kept in the one collection, nothing to purge by
    await inbox.Inbox.of(db, ServiceSettings(inbox_ttl=False)).setup()
    assert inbox.TIME_INDEX not in await indexes(db[inbox.INBOX])


async def test_a_new_deployment_has_no_legacy_inbox(mongo: Any, db_name: str) -> None:
    db = mongo[db_name]
    await inbox.Inbox.of(db, ServiceSettings()).setup()
    assert inbox.INBOX not in await inbox.collections(db)
    await inbox.Inbox.of(db, ServiceSettings(inbox_ttl=False)).setup()
    assert inbox.INBOX in await inbox.collections(db)


def test_a_duplicate_that_outlived_its_inbox_record_is_refused_before_the_inbox() -> None:
    settings = ServiceSettings()
    horizon = retention.dedup_horizon(settings)
    assert horizon is not None
    # the purge deletes an id once its event time is inbox_retention_s old
    event_time = datetime.now(UTC) - timedelta(seconds=settings.inbox_retention_s)
    body = build("inventory.adjusted", {"sku": "A"}, source="wms/x", time=event_time)
    delivery = SimpleNamespace(
        body=body.to_json_bytes(), exchange="wms.events", routing_key=body.type, headers={}
    )
    svc = SimpleNamespace(name="any", route_for=lambda t: None, shared_reads=frozenset())
    with pytest.raises(retention.BeyondDedupHorizon) as e:
        Admission(svc, settings.event_time_window(), horizon).parse(delivery)  # type: ignore[arg-type]
    assert e.value.kind == "beyond_dedup_horizon"
