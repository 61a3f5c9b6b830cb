"""Messages whose AMQP properties the client library cannot decode (a timestamp past the year
9999, a `message_id` that is not UTF-8, header tables 10,000 levels deep) once closed the
service's whole connection on every delivery, until the broker's delivery limit dropped them
into the DLQ without failure headers. Now they are read leniently: the CloudEvent in the body
counts, the service goes on, and what cannot be applied is dead-lettered with its reason."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta

import aiormq
import pamqp.frame
import pytest

from shared.amqp_wire import RawProperties
from shared.envelope import build
from tests.e2e.dlq_tools import purged, shown
from tests.e2e.harness import eventually, get_json

pytestmark = pytest.mark.e2e

LOC = "DC-EAST"


def _deep_table(depth: int) -> bytes:
    """A header table holding one field that holds a table ... `depth` levels down."""
    table = struct.pack(">I", 0)
    for _ in range(depth):
        field = b"\x01aF" + table
        table = struct.pack(">I", len(field)) + field
    return table


# flags (pamqp): headers 8192, delivery mode 4096, message id 128, timestamp 64
PROPERTIES = {
    "timestamp past 9999": struct.pack(">HBQ", 4096 | 64, 2, 2**62),
    "message_id not UTF-8": struct.pack(">H", 128) + b"\x03\xff\xfe\xfd",
    "headers 10,000 deep": struct.pack(">H", 8192) + _deep_table(10_000),
}


async def publish(url: str, body: bytes, raw: bytes) -> None:
    """Publish with exactly these property bytes, through a bare aiormq channel."""
    conn = await aiormq.connect(url)
    try:
        ch = await conn.channel()
        await ch.basic_publish(
            body,
            exchange="wms.events",
            routing_key="inventory.adjusted",
            properties=RawProperties(raw, ""),
        )
    finally:
        await conn.close()


async def test_undecodable_properties_do_not_stop_a_service(cluster, monkeypatch):
    # pamqp's own strict decoding, as a process that never installed the lenient one has it
    strict = pamqp.frame._unmarshal_header_frame
    monkeypatch.setattr(
        pamqp.frame, "_unmarshal_header_frame", getattr(strict, "__wrapped__", strict)
    )
    av = (await cluster.start("availability"))["availability"]
    s = f"SKU-{uuid.uuid4().hex[:8]}"
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    for i, raw in enumerate(PROPERTIES.values()):
        ev = build(
            "inventory.adjusted",
            {"location": LOC, "sku": s, "qty_delta": 10**i, "reason_code": "X", "user": "t"},
            source="wms/dc-east",
            time=t0 + timedelta(seconds=i),
        )
        await publish(cluster.amqp_url, ev.to_json_bytes(), raw)
    # a CloudEvent that breaks the contract, under properties nobody can decode
    bad = build("inventory.adjusted", {"location": LOC, "sku": s}, source="wms/dc-east")
    await publish(cluster.amqp_url, bad.to_json_bytes(), PROPERTIES["timestamp past 9999"])
    await cluster.publish(
        "wms.events",
        "inventory.adjusted",
        {"location": LOC, "sku": s, "qty_delta": 1000, "reason_code": "X", "user": "t"},
        source="wms/dc-east",
        time=t0 + timedelta(seconds=10),
    )

    async def all_applied():
        p = await get_json(av, f"/v1/availability/{s}/{LOC}")
        return p if p and p["on_hand"] == 1111 else None

    await eventually(all_applied, timeout=60)
    m = await eventually(
        lambda: shown(cluster.amqp_url, cluster.mongodb_url, "availability", bad.id), timeout=60
    )
    assert m["headers"]["failure-kind"] == "schema_invalid"
    await purged(cluster.amqp_url, cluster.mongodb_url, "availability", bad.id)
