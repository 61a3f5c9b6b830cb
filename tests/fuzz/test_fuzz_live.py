"""Hostile messages published live to all five running services, then ordinary traffic.

Every copy a service receives ends either applied once (in that service's inbox) or in its
dead-letter queue with the failure headers that say why; none is lost, none goes round the
broker's delivery limit without headers. The services keep consuming and publishing, and
on-call staff can read and remove every dead letter with the `distsync dlq` tools."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from shared import inbox
from shared.topology import INGRESS_EXCHANGES, all_services
from tests.e2e.dlq_tools import dlq
from tests.e2e.harness import eventually, get_json
from tests.fuzz.hostile import envelope

pytestmark = pytest.mark.e2e

MESSAGES = int(os.environ.get("DISTSYNC_FUZZ_LIVE_MESSAGES", "120"))
SEED = int(os.environ.get("DISTSYNC_FUZZ_SEED", "20261204"))


def receivers() -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for svc in all_services():
        for exchange, key in svc.bindings():
            out[(exchange, key)].append(svc.name)
    return out


async def dead_letters(cluster: Any, queue: str) -> list[dict[str, Any]]:
    env = dict(os.environ, AMQP_URL=cluster.amqp_url, MONGODB_URL=cluster.mongodb_url)
    p = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "dlq",
        "export",
        queue,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err_b = await asyncio.wait_for(p.communicate(), 120)
    if p.returncode == 3:  # nothing to export: the queue is empty
        return []
    assert p.returncode == 0, err_b.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def test_hostile_traffic_is_applied_or_dead_lettered_with_a_reason_and_the_services_go_on(
    cluster,
):
    run = await cluster.start(*(s.name for s in all_services()))
    services = {s.name: s for s in all_services() if s.routes}  # those that consume
    routes = receivers()
    r = random.Random(SEED)
    expected: dict[str, set[str]] = defaultdict(set)  # service (or unrouted) -> message ids
    for i in range(MESSAGES):
        svc = services[sorted(services)[i % len(services)]]
        exchange, key, body, mid = envelope(r, svc, rate=0.3)
        await cluster.publish_raw(exchange, key, body, message_id=mid)
        targets = routes.get((exchange, key), [])
        for t in targets:
            expected[t].add(mid)
        if not targets and exchange in INGRESS_EXCHANGES:
            expected["unrouted"].add(mid)

    # ordinary traffic after it: every service still consumes, and availability still publishes
    changed = await cluster.listen("availability.events", "availability.changed")
    tag = uuid.uuid4().hex[:8]
    sku, oid, po, rma, tn = (f"{p}-{tag}" for p in ("SKU", "ORD", "PO", "RMA", "TN"))
    now = datetime.now(UTC)
    await cluster.publish(
        "wms.events",
        "inventory.adjusted",
        {"location": "DC-EAST", "sku": sku, "qty_delta": 7, "reason_code": "X", "user": "t"},
        source="wms/dc-east",
    )
    await cluster.publish(
        "erp.events",
        "order.created",
        {
            "order_id": oid,
            "channel": "web",
            "customer_id": "C",
            "lines": [{"line_id": "1", "sku": sku, "qty": 1}],
        },
        source="erp/main",
    )
    await cluster.publish(
        "erp.events",
        "purchase_order.released",
        {
            "po_id": po,
            "supplier_id": "S",
            "location": "DC-EAST",
            "expected_date": (now + timedelta(days=3)).isoformat(),
            "lines": [{"line_id": "1", "sku": sku, "qty": 5}],
        },
        source="erp/main",
    )
    await cluster.publish(
        "erp.events",
        "return.authorized",
        {
            "rma_id": rma,
            "order_id": oid,
            "location": "DC-EAST",
            "lines": [{"line_id": "1", "sku": sku, "qty": 1, "reason": "damaged"}],
        },
        source="erp/main",
    )
    await cluster.publish(
        "carrier.events",
        "tracking.reported",
        {"carrier": "ups", "tracking_number": tn, "native_code": "I"},
        source="carrier/ups",
    )
    checks = [
        ("availability", f"/v1/availability/{sku}/DC-EAST"),
        ("order-status", f"/v1/orders/{oid}"),
        ("receipt", f"/v1/purchase-orders/{po}"),
        ("returns", f"/v1/returns/{rma}"),
        ("carrier-tracking", f"/v1/shipments/{tn}"),
    ]
    for name, path in checks:
        await eventually(lambda n=name, p=path: get_json(run[n], p), timeout=60)

    async def published() -> list[dict[str, Any]]:
        return [e for e in changed if e["data"]["sku"] == sku]

    await eventually(published, timeout=30)

    # every copy is accounted for: applied once, or dead-lettered with its reason
    client: AsyncMongoClient[Any] = AsyncMongoClient(cluster.mongodb_url)
    try:

        async def accounted() -> dict[str, Any] | None:
            report: dict[str, Any] = {}
            for name, ids in expected.items():
                letters = await dead_letters(cluster, name)
                dead = {str(m["properties"].get("message_id")) for m in letters}
                applied: set[str] = set()
                if name != "unrouted":
                    db = client[f"e2e_{cluster.tag}_{name.replace('-', '_')}"]
                    async for d in inbox.find(db, {"_id": {"$in": list(ids)}}, {"_id": 1}):
                        applied.add(d["_id"])
                missing = ids - dead - applied
                if missing:
                    return None
                report[name] = (applied, dead, letters)
            return report

        report = await eventually(accounted, timeout=180, interval=2)
    finally:
        await client.close()

    for name, (applied, dead, letters) in report.items():
        assert not (applied & expected[name] & dead), f"{name}: applied and dead-lettered"
        if name == "unrouted":
            continue
        for m in letters:
            h = m["headers"]
            assert h.get("failure-kind") and h.get("exception-message"), (name, h)
        # on-call staff can remove every one of them
        code, _, err = await dlq(cluster.amqp_url, cluster.mongodb_url, "purge", name, "--yes")
        assert code == 0, err
        assert await dead_letters(cluster, name) == []
