"""`distsync trace` follows one correlationid through the stores of the running services."""

from __future__ import annotations

import asyncio
import json

import pytest

from distsync_ops import trace
from shared import cli
from shared.runtime import mongo_client
from tests.contracts.flows import ids, receipt_flow
from tests.e2e.harness import eventually


def cluster_dbs(cluster) -> dict[str, str]:
    return {name: r.runtime.db.name for name, r in cluster.running.items()}


def by_type(t: trace.Trace, type_: str) -> list[trace.TraceEvent]:
    return [e for e in t.events if e.type == type_]


@pytest.mark.e2e
async def test_trace_shows_the_receipt_flow_consumed_and_emitted_across_services(
    cluster, mongodb_url
):
    await cluster.start("receipt", "availability")
    cid = ids("PO-FLOW")
    sent = await receipt_flow(cluster, cid)
    client = mongo_client(mongodb_url)
    try:

        async def chain_complete():
            t = await trace.collect(client, cluster_dbs(cluster), cid)
            changed = [e for e in by_type(t, "availability.changed") if e.sent_at]
            confirmed = by_type(t, "receipt.confirmed")
            return t if changed and confirmed and confirmed[0].consumed_by else None

        t = await eventually(chain_complete, timeout=30)
    finally:
        await client.close()

    assert {"receipt", "availability"} <= set(t.services())
    recorded = next(e for e in t.events if e.id == sent["recorded"])
    assert recorded.emitted_by is None and [c.service for c in recorded.consumed_by] == ["receipt"]
    confirmed = by_type(t, "receipt.confirmed")[0]
    assert confirmed.emitted_by == "receipt" and confirmed.causationid == sent["recorded"]
    assert [c.service for c in confirmed.consumed_by] == ["availability"]
    changed = [e for e in by_type(t, "availability.changed") if e.causationid == confirmed.id]
    assert changed and changed[0].emitted_by == "availability"
    assert t.roots()[0].id == sent["released"]  # the flow started with the PO release

    text = trace.format_text(t)
    assert "receipt           consumed  receipt.recorded" in text
    assert "receipt           emitted   receipt.confirmed" in text
    assert "availability      consumed  receipt.confirmed" in text
    assert "availability      emitted   availability.changed" in text
    tree = text.split("causation:")[1].splitlines()
    rows = [
        next(i for i, line in enumerate(tree) if f"[{x}]" in line)
        for x in (sent["recorded"], confirmed.id, changed[0].id)
    ]
    assert rows == sorted(rows)
    depth = [len(tree[i]) - len(tree[i].lstrip()) for i in rows]
    assert depth[0] < depth[1] < depth[2]  # recorded -> confirmed -> changed, nested


@pytest.mark.e2e
async def test_distsync_trace_command_prints_the_chain_as_json(
    cluster, mongodb_url, monkeypatch, capsys
):
    await cluster.start("receipt", "availability")
    cid = ids("PO-CLI")
    await receipt_flow(cluster, cid)
    dbs = cluster_dbs(cluster)
    client = mongo_client(mongodb_url)
    try:

        async def consumed_by_availability():
            t = await trace.collect(client, dbs, cid)
            return any(c.service == "availability" for e in t.events for c in e.consumed_by)

        await eventually(consumed_by_availability, timeout=30)
    finally:
        await client.close()
    monkeypatch.setenv("MONGODB_URL", mongodb_url)
    monkeypatch.setenv(trace.DBS_ENV, json.dumps(dbs))
    capsys.readouterr()

    code = await asyncio.to_thread(cli.main, ["trace", cid, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["correlationid"] == cid
    assert {"receipt", "availability"} <= set(out["services"])
    kinds = {(e["type"], e["emitted_by"]) for e in out["events"]}
    assert ("receipt.recorded", None) in kinds and ("receipt.confirmed", "receipt") in kinds

    code = await asyncio.to_thread(cli.main, ["trace", ids("NOBODY")])
    assert code == 1
    assert "no events with correlationid" in capsys.readouterr().err


def test_trace_database_names_default_per_service_and_follow_the_override():
    assert trace.database_names(["order-status"], env={}) == {
        "order-status": "distsync_order_status"
    }
    env = {trace.DBS_ENV: json.dumps({"order-status": "os_prod"})}
    assert trace.database_names(["order-status", "receipt"], env=env) == {
        "order-status": "os_prod",
        "receipt": "distsync_receipt",
    }
    with pytest.raises(ValueError):
        trace.database_names(env={trace.DBS_ENV: "[1]"})
