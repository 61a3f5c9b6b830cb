"""A replay leaves in the DLQ what the service would refuse as `beyond_dedup_horizon`, says so,
and replays it only when told to (`--beyond-horizon`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from distsync_ops import dlq as D
from runtime_support import counter_service, queue_depth
from shared.envelope import build
from shared.topology import declare, service_topology
from tools.ops.tests.dlq_support import dlq_settings, failed_headers, ids_in, sink

pytestmark = pytest.mark.integration


async def seed_aged(url: str, ages: list[timedelta]) -> tuple[str, list[str]]:
    """A service's DLQ holding one failed event per age (its event time that long ago)."""
    svc = counter_service(f"hz-{uuid.uuid4().hex[:8]}")
    ids = []
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel(publisher_confirms=True)
        await declare(ch, service_topology(svc))
        for i, age in enumerate(ages):
            at = datetime.now(UTC) - age
            ev = build("thing.happened", {"key": f"k{i}", "n": i}, source="wms/t", time=at)
            ids.append(ev.id)
            await ch.default_exchange.publish(
                aio_pika.Message(
                    ev.to_json_bytes(),
                    headers=failed_headers(svc.name),
                    message_id=ev.id,
                    delivery_mode=2,
                ),
                routing_key=D.queue_of(svc.name),
            )
    finally:
        await conn.close()
    return svc.name, ids


async def test_messages_beyond_the_horizon_stay_in_the_dlq_unless_the_operator_insists(
    amqp_url, mongodb_url, db_name
):
    old, fresh = timedelta(days=20), timedelta(minutes=5)
    service, (old_id, fresh_id) = await seed_aged(amqp_url, [old, fresh])
    await sink(amqp_url, f"{service}.sink", exchange=f"{service}.replays")
    s = dlq_settings(amqp_url, mongodb_url, db_name)
    to = D.ReplayOptions(to=f"{service}.replays")

    o = await D.replay(s, service, D.Selector(), to)
    assert (o.matched, o.done, o.skipped_beyond_horizon, o.failed) == (1, 1, 1, 0)
    assert await ids_in(amqp_url, f"{service}.sink") == [fresh_id]
    assert await queue_depth(amqp_url, D.queue_of(service)) == 1

    wide = dlq_settings(amqp_url, mongodb_url, db_name, inbox_retention_s=30 * 86400)
    dry = await D.replay(wide, service, D.Selector(), D.ReplayOptions(dry_run=True))
    assert (dry.matched, dry.skipped_beyond_horizon) == (1, 0)  # the horizon is the settings'

    o = await D.replay(
        s, service, D.Selector(), D.ReplayOptions(to=f"{service}.replays", beyond_horizon=True)
    )
    assert (o.matched, o.done, o.skipped_beyond_horizon) == (1, 1, 0)
    assert await ids_in(amqp_url, f"{service}.sink") == [old_id]
    assert await queue_depth(amqp_url, D.queue_of(service)) == 0
