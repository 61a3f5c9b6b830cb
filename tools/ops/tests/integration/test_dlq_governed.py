"""Who may act on the DLQs through the admin API, and the two-person replay, on the real broker:
API keys with scopes, a request over the threshold that does nothing until another person
approves, the requester's own approval refused, and the audit log that shows both."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest

from availability.main import SERVICE as AVAILABILITY
from distsync_ops import dlq as D
from distsync_ops.dlq_api import create_dlq_app
from runtime_support import drain_queue, queue_depth
from shared.auth import AuthSettings
from shared.auth.apikeys import digest
from shared.envelope import build
from shared.topology import declare, service_topology
from tools.ops.tests.dlq_support import dlq_env, dlq_settings, failed_headers, finish, sink, start

pytestmark = pytest.mark.integration

KEYS = {  # client: (key, scopes)
    "alice": ("alice-" + "a" * 40, ["dlq:read", "dlq:replay", "dlq:purge", "dlq:approve"]),
    "bob": ("bob-" + "b" * 40, ["dlq:read", "dlq:approve"]),
    "carol": ("carol-" + "c" * 40, ["dlq:read"]),
    "auditor": ("auditor-" + "d" * 40, ["audit:read"]),
}
SINK_EXCHANGE = "governed.replays"
AUDIT_EXPORT = (sys.executable, "-m", "shared.cli", "audit", "export")


@pytest.fixture
def auth(tmp_path: Path) -> AuthSettings:
    path = tmp_path / "keys.json"
    entries = [{"client": c, "sha256": digest(k), "scopes": s} for c, (k, s) in KEYS.items()]
    path.write_text(json.dumps(entries))
    return AuthSettings(mode="api_keys", api_keys_file=str(path), approval_threshold=3)


def as_(client: str, app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8090",
        headers={"X-API-Key": KEYS[client][0]},
        timeout=60,
    )


async def seed_availability_dlq(url: str, n: int) -> list[str]:
    """n failed events in availability.dlq (this module's own vhost), and a queue to replay to."""
    conn = await aio_pika.connect(url)
    ids = []
    try:
        ch = await conn.channel(publisher_confirms=True)
        await declare(ch, service_topology(AVAILABILITY))
        for i in range(n):
            ev = build("inventory.adjusted", {"sku": f"S{i}"}, source="wms/t")
            ids.append(ev.id)
            await ch.default_exchange.publish(
                aio_pika.Message(
                    ev.to_json_bytes(),
                    headers=failed_headers("availability", event_type=ev.type),
                    message_id=ev.id,
                    type=ev.type,
                    delivery_mode=2,
                ),
                routing_key="availability.dlq",
            )
    finally:
        await conn.close()
    await sink(url, "governed.sink", exchange=SINK_EXCHANGE)
    return ids


async def test_a_large_stock_replay_needs_a_second_person(
    amqp_url, mongodb_url, db_name, auth
) -> None:
    ids = await seed_availability_dlq(amqp_url, 5)
    app = create_dlq_app(dlq_settings(amqp_url, mongodb_url, db_name), auth)
    body = {"all": True, "to": SINK_EXCHANGE}
    async with as_("alice", app) as alice, as_("bob", app) as bob:
        async with as_("carol", app) as carol:
            r = await carol.post("/v1/dlq/availability/replay", json=body)
            assert r.status_code == 403 and "dlq:replay" in r.json()["detail"]
            r = await carol.post("/v1/dlq/approvals/whatever/approve")
            assert r.status_code == 403 and "dlq:approve" in r.json()["detail"]

        r = await alice.post("/v1/dlq/availability/replay", json=body, params={"wait": "true"})
        assert r.status_code == 202, r.text
        request = r.json()
        assert request["state"] == "pending_approval" and request["matched"] == 5
        assert request["requested_by"] == "api_key:alice"
        approval = request["approval"]
        assert await queue_depth(amqp_url, "availability.dlq") == 5  # a request does nothing

        r = await alice.post(f"/v1/dlq/approvals/{approval}/approve")
        assert r.status_code == 403 and "another person" in r.json()["detail"]
        assert await queue_depth(amqp_url, "availability.dlq") == 5
        r = await alice.get(f"/v1/dlq/approvals/{approval}")
        assert r.json()["status"] == "pending"

        r = await bob.post(
            f"/v1/dlq/approvals/{approval}/approve",
            params={"wait": "true"},
            json={"note": "ERP fixed the unit table"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "done" and r.json()["outcome"]["done"] == 5
        assert await queue_depth(amqp_url, "availability.dlq") == 0
        replayed = await drain_queue(amqp_url, "governed.sink")
        assert sorted(m.message_id or "" for m in replayed) == sorted(ids)
        r = await bob.post(f"/v1/dlq/approvals/{approval}/approve")
        assert r.status_code == 409  # approved once, run once

    async with as_("auditor", app) as auditor:
        r = await auditor.get("/v1/audit", params={"action": "dlq."})
        assert r.status_code == 200
        entries = r.json()
    by_action: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_action.setdefault(f"{e['action']}/{e['result']}", []).append(e)
    requested = by_action["dlq.replay.requested/pending_approval"][0]
    assert requested["identity"]["client"] == "alice" and requested["counts"]["matched"] == 5
    refused = {e["identity"]["client"]: e for e in by_action["dlq.approval.approve/refused"]}
    assert "another person" in refused["alice"]["detail"]["reason"]
    assert "not pending" in refused["bob"]["detail"]["reason"]  # the second approval
    approved = by_action["dlq.approval.approve/approved"][0]
    assert approved["identity"]["client"] == "bob"
    assert approved["detail"]["requested_by"] == "api_key:alice"
    assert approved["detail"]["decided_by"] == "api_key:bob"
    ran = by_action["dlq.replay/done"][0]
    assert ran["counts"]["done"] == 5 and ran["detail"]["approval"] == approval
    assert ran["selector"] == {"limit": 5} and ran["finished_at"] >= ran["at"]


async def test_below_the_threshold_one_operator_suffices(
    amqp_url, mongodb_url, db_name, auth
) -> None:
    await seed_availability_dlq(amqp_url, 2)
    await drain_queue(amqp_url, "governed.sink")
    settings = dlq_settings(amqp_url, mongodb_url, db_name)
    app = create_dlq_app(settings, auth)
    depth = await queue_depth(amqp_url, "availability.dlq")
    async with as_("alice", app) as alice:
        r = await alice.post(
            "/v1/dlq/availability/purge", params={"wait": "true"}, json={"limit": 2}
        )
        assert r.status_code == 200 and r.json()["outcome"]["done"] == 2
    assert await queue_depth(amqp_url, "availability.dlq") == depth - 2
    entries = await D.audit_log(settings, 5, "availability")
    assert entries[0]["action"] == "purge" and entries[0]["user"] == "api_key:alice"


async def test_the_audit_log_needs_its_scope_and_records_its_readers(
    amqp_url, mongodb_url, db_name, auth
) -> None:
    app = create_dlq_app(dlq_settings(amqp_url, mongodb_url, db_name), auth)
    async with as_("alice", app) as alice:
        assert (await alice.get("/v1/audit")).status_code == 403
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8090"
    ) as anon:
        r = await anon.get("/v1/audit")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    async with as_("auditor", app) as auditor:
        await auditor.get("/v1/audit")
        r = await auditor.get("/v1/audit", params={"action": "audit.", "format": "jsonl"})
        lines = [json.loads(x) for x in r.text.splitlines()]
        assert lines and lines[0]["identity"]["client"] == "auditor"


async def test_distsync_audit_export_writes_jsonl_and_csv(
    amqp_url, mongodb_url, db_name, auth, tmp_path
) -> None:
    await seed_availability_dlq(amqp_url, 1)
    app = create_dlq_app(dlq_settings(amqp_url, mongodb_url, db_name), auth)
    async with as_("carol", app) as carol:
        assert (await carol.get("/v1/dlq/availability/export")).status_code == 200
    env = dlq_env(amqp_url, mongodb_url, db_name)
    code, out, err = await finish(
        await start(*AUDIT_EXPORT, "--format", "jsonl", "--action", "dlq.", env=env)
    )
    assert code == 0, err
    entries = [json.loads(line) for line in out.splitlines()]
    assert entries[0]["action"] == "dlq.export" and entries[0]["identity"]["client"] == "carol"
    assert entries[0]["counts"] == {"exported": 1}
    path = tmp_path / "audit.csv"
    code, _, err = await finish(
        await start(*AUDIT_EXPORT, "--format", "csv", "-o", str(path), env=env)
    )
    assert code == 0, err
    rows = list(csv.DictReader(path.open()))
    assert {"audit.export", "dlq.export"} <= {r["action"] for r in rows}
    assert next(r for r in rows if r["action"] == "dlq.export")["client"] == "carol"
