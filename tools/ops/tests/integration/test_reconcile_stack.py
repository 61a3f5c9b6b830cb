"""`distsync reconcile` against real availability and order-status services (real broker, real
MongoDB wire protocol): positions built from contract events, snapshots and exports compared,
counts published and applied. The command runs as a real process (exit codes, --json, --csv)."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from distsync_ops import dlq as D
from distsync_ops.dlq_api import create_dlq_app
from shared.auth import AuthSettings
from shared.auth.apikeys import digest
from tests.e2e.harness import Cluster, eventually, get_json

pytestmark = pytest.mark.integration

WMS, ERP = "wms/dc-recon", "erp/main"


@pytest.fixture
async def stack(amqp_url: str, mongodb_url: str) -> AsyncIterator[Cluster]:
    c = Cluster(amqp_url, mongodb_url)
    await c.apply_topology()
    await c.start("availability", "order-status")
    yield c
    await c.stop()


def cli(c: Cluster, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    e = {
        **os.environ,
        "MONGODB_URL": c.mongodb_url,
        "AMQP_URL": c.amqp_url,
        "DISTSYNC_RECONCILE_AVAILABILITY_DB": f"e2e_{c.tag}_availability",
        "DISTSYNC_RECONCILE_ORDER_STATUS_DB": f"e2e_{c.tag}_order_status",
        "DISTSYNC_STACK_FILE": "/nonexistent/stack.json",
        **(env or {}),
    }
    p = subprocess.run(
        [sys.executable, "-m", "shared.cli", "reconcile", *args],
        env=e,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return p.returncode, p.stdout, p.stderr


async def run_cli(c: Cluster, *args: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(cli, c, *args)


class World:
    """Three SKUs at two fresh locations, with a known history around the snapshot time."""

    def __init__(self, c: Cluster) -> None:
        tag = uuid.uuid4().hex[:6].upper()
        self.c = c
        self.prefix = f"R{tag}-"
        self.a, self.b, self.d = (f"{self.prefix}{x}" for x in ("A", "B", "D"))
        self.east, self.west = f"E{tag}", f"W{tag}"
        self.t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
        self.snap = self.t0 + timedelta(seconds=30)  # the snapshot's as_of

    def at(self, s: float) -> datetime:
        return self.t0 + timedelta(seconds=s)

    async def adjust(self, sku: str, loc: str, delta: float, s: float, **extra: Any) -> None:
        data = {"location": loc, "sku": sku, "qty_delta": delta, "reason_code": "T", **extra}
        await self.c.publish("wms.events", "inventory.adjusted", data, source=WMS, time=self.at(s))

    async def build(self) -> None:
        c = self.c
        item = {"sku": self.a, "base_uom": "EA", "uom_conversions": {"CASE": 12}}
        await c.publish("erp.events", "item.updated", item, source=ERP, time=self.at(0))
        await self.adjust(self.a, self.east, 100, 1)
        await self.adjust(self.a, self.east, -4, 10)
        await self.adjust(self.b, self.east, 50, 2)
        await self.adjust(self.a, self.west, 7, 3)
        await self.adjust(self.d, self.west, 5, 4)
        q = {"location": self.east, "sku": self.b, "qty": 5, "reason_code": "QA"}
        await c.publish("wms.events", "inventory.quarantined", q, source=WMS, time=self.at(5))
        # after the snapshot's time: movements the snapshot cannot know about
        await self.adjust(self.a, self.east, -30, 60)
        await self.adjust(self.b, self.east, 8, 90)
        av = c.running["availability"]

        async def settled() -> bool:
            a = await get_json(av, f"/v1/availability/{self.a}/{self.east}")
            b = await get_json(av, f"/v1/availability/{self.b}/{self.east}")
            d = await get_json(av, f"/v1/availability/{self.d}/{self.west}")
            return bool(a and b and d and a["on_hand"] == 66 and b["on_hand"] == 58)

        await eventually(settled, timeout=30)

    def matching(self) -> list[list[str]]:
        """What the other system had at the snapshot's time: exactly distsync's then."""
        iso = self.snap.isoformat()
        return [
            [self.a, self.east, "8", "CASE", iso, ""],  # 96 EA
            [self.b, self.east, "50", "", iso, "5"],
            [self.a, self.west, "7", "EA", iso, ""],
            [self.d, self.west, "5", "", iso, ""],
        ]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sku", "location", "qty", "uom", "as_of", "quarantined"])
        w.writerows(rows)
    return path


async def test_a_matching_snapshot_has_no_variance_and_later_movements_are_not_variance(
    stack: Cluster, tmp_path: Path
) -> None:
    w = World(stack)
    await w.build()
    snap = write_csv(tmp_path / "snap.csv", w.matching())
    rc, out, err = await run_cli(stack, "stock", str(snap), "--json", "--sku-prefix", w.prefix)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["ok"] and doc["bad_rows"] == 0 and doc["not_comparable"] == 0, doc
    assert doc["keys"] == 4 and doc["keys_with_variance"] == 0, doc
    assert {x["location"]: x["absolute_variance"] for x in doc["locations"]} == {
        w.east: 0.0,
        w.west: 0.0,
    }
    # the same snapshot dated after the late movements is off by exactly those movements
    late = [[*r[:4], (w.t0 + timedelta(seconds=120)).isoformat(), r[5]] for r in w.matching()]
    rc, out, err = await run_cli(
        stack,
        "stock",
        str(write_csv(tmp_path / "late.csv", late)),
        "--json",
        "--sku-prefix",
        w.prefix,
    )
    assert rc == 1, err
    found = {(x["sku"], x["location"]): x["variance"] for x in json.loads(out)["largest"]}
    assert found == {(w.a, w.east): 30.0, (w.b, w.east): -8.0}


async def test_seeded_differences_are_all_found_with_sign_and_size_and_none_invented(
    stack: Cluster, tmp_path: Path
) -> None:
    w = World(stack)
    await w.build()
    rows = w.matching()
    rows[0][2] = "7.5"  # 90 EA where distsync had 96: -6
    rows[1][2] = "53"  # +3
    rows[1][5] = "4"  # changed after as_of: quarantined not comparable
    rows[2][5] = "2"  # quarantined +2 (distsync holds none)
    del rows[3]  # D at west missing from a complete snapshot: 0 there, -5
    iso = w.snap.isoformat()
    rows.append([f"{w.prefix}NEW", w.west, "2", "", iso, ""])  # unknown to distsync: +2
    rows.append([w.b, "", "1", "", iso, ""])  # line 6: no location
    rows.append([w.b, w.east, "-3", "", iso, ""])  # line 7: negative
    rows.append([w.b, w.east, "1", "PALLET", iso, ""])  # line 8: unknown unit
    rows.append([w.b, w.west, "1", "", "yesterday", ""])  # line 9: bad time
    snap = write_csv(tmp_path / "snap.csv", rows)
    out_csv = tmp_path / "variances.csv"
    rc, out, err = await run_cli(
        stack, "stock", str(snap), "--json", "--csv", str(out_csv), "--sku-prefix", w.prefix
    )
    assert rc == 1, err
    doc = json.loads(out)
    found = {
        (x["sku"], x["location"]): (x["variance"], x["quarantined_variance"])
        for x in doc["largest"]
    }
    assert found == {
        (w.a, w.east): (-6.0, None),
        (w.b, w.east): (3.0, None),
        (w.a, w.west): (0.0, 2.0),
        (w.d, w.west): (-5.0, None),
        (f"{w.prefix}NEW", w.west): (2.0, None),
    }
    assert [b["line"] for b in doc["bad"]] == [6, 7, 8, 9], doc["bad"]
    assert "unknown unit 'PALLET'" in doc["bad"][2]["reason"]
    east = next(x for x in doc["locations"] if x["location"] == w.east)
    assert east["net_variance"] == -3.0 and east["absolute_variance"] == 9.0
    assert east["quarantined_not_comparable"] == 1
    west = next(x for x in doc["locations"] if x["location"] == w.west)
    assert west["net_variance"] == -3.0 and west["absolute_variance"] == 9.0
    with open(out_csv, encoding="utf-8") as fh:
        listed = [(r["sku"], r["location"], r["variance"]) for r in csv.DictReader(fh)]
    assert listed[0] == (w.a, w.east, "-6") and len(listed) == 5
    assert east["variance_rate"] == pytest.approx(9 / 143) and west["variance_rate"] == 1.0
    # a rate tolerance lets a whole location pass: east (6.3%) within 20%, west (100%) not
    rc, out, err = await run_cli(
        stack, "stock", str(snap), "--sku-prefix", w.prefix, "--tolerance-rate", "0.2"
    )
    assert rc == 1 and "line 7: qty -3 is negative" in out, (out, err)
    rc, out, err = await run_cli(
        stack, "stock", str(snap), "--sku-prefix", w.prefix, "--tolerance-rate", "1"
    )
    assert rc == 0, (out, err)


async def test_a_reviewed_count_plan_published_once_another_person_approved_it(
    stack: Cluster, tmp_path: Path
) -> None:
    w = World(stack)
    await w.build()
    rows = w.matching()
    rows[2][2] = "9"  # A at west: the WMS counted 9 where distsync has 7
    snap = write_csv(tmp_path / "snap.csv", rows)
    plan = tmp_path / "plan.jsonl"
    admin_db = f"e2e_{stack.tag}_admin"
    env = {"DISTSYNC_ADMIN_DB": admin_db}
    args = ("stock", str(snap), "--sku-prefix", w.prefix, "--json")
    rc, out, err = await asyncio.to_thread(
        cli, stack, *args, "--plan", str(plan), "--requested-by", "alice", env=env
    )
    assert rc == 1 and plan.exists(), err
    approval = json.loads(out)["plan"]["approval"]
    counts = [json.loads(x) for x in plan.read_text().splitlines()[1:-1]]
    assert [(c["sku"], c["location"], c["counted_qty"]) for c in counts] == [(w.a, w.west, "9")]
    base = ("stock", "--publish-counts", "--plan", str(plan), "--source", "reconcile")

    def publish(*extra: str, **more: str) -> tuple[int, str, str]:
        return cli(stack, *base, *extra, env={**env, **more})

    # names typed on the command line count only in a lab
    rc, _, err = await asyncio.to_thread(publish, "--approved-by", "bob")
    assert rc == 2 and "--approval ID" in err
    rc, _, err = await asyncio.to_thread(
        publish, "--approved-by", "Alice", DISTSYNC_AUTH_MODE="open"
    )
    assert rc == 2 and "someone other than the requester" in err
    rc, _, err = await asyncio.to_thread(publish, "--approval", approval)
    assert rc == 2 and "must approve it first" in err

    keys = tmp_path / "keys.json"
    bob_key = "bob-" + "b" * 40
    keys.write_text(
        json.dumps([{"client": "bob", "sha256": digest(bob_key), "scopes": ["dlq:approve"]}])
    )
    app = create_dlq_app(
        D.DlqSettings(amqp_url=stack.amqp_url, mongodb_url=stack.mongodb_url, admin_db=admin_db),
        AuthSettings(mode="api_keys", api_keys_file=str(keys)),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://127.0.0.1:8090",
        headers={"X-API-Key": bob_key},
    ) as bob:
        r = await bob.post(f"/v1/dlq/approvals/{approval}/approve")
        assert r.status_code == 202 and r.json()["state"] == "approved", r.text

    edited = tmp_path / "edited.jsonl"
    edited.write_text(plan.read_text().replace('"9"', '"90"'))
    rc, _, err = await asyncio.to_thread(
        cli,
        stack,
        "stock",
        "--publish-counts",
        "--plan",
        str(edited),
        "--source",
        "reconcile",
        "--approval",
        approval,
        env=env,
    )
    assert rc == 2 and "changed" in err
    rc, out, err = await asyncio.to_thread(publish, "--approval", approval, "--json")
    assert rc == 0, err
    assert json.loads(out)["published"] == 1
    assert json.loads(out)["approved_by"] == "api_key:bob"
    rc, _, err = await asyncio.to_thread(publish, "--approval", approval)
    assert rc == 2 and "used already" in err
    av = stack.running["availability"]

    async def corrected() -> bool:
        p = await get_json(av, f"/v1/availability/{w.a}/{w.west}")
        return bool(p and p["on_hand"] == 9)

    await eventually(corrected, timeout=20)
    rc, out, err = await run_cli(stack, "stock", str(snap), "--sku-prefix", w.prefix, "--json")
    assert rc == 0 and json.loads(out)["keys_with_variance"] == 0, (out, err)


async def test_orders_out_of_step_are_listed_with_their_milestone(
    stack: Cluster, tmp_path: Path
) -> None:
    c = stack
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    ids = [f"ORD-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for i, oid in enumerate(ids):
        created = {
            "order_id": oid,
            "channel": "web",
            "customer_id": "C",
            "lines": [{"line_id": "1", "sku": "S", "qty": 2}],
        }
        await c.publish(
            "erp.events", "order.created", created, source=ERP, time=t0, correlationid=oid
        )
        if i > 0:
            pick = {
                "order_id": oid,
                "location": "L1",
                "lines": [{"line_id": "1", "sku": "S", "qty_picked": 2}],
            }
            await c.publish(
                "wms.events",
                "pick.completed",
                pick,
                source=WMS,
                time=t0 + timedelta(minutes=5),
                correlationid=oid,
            )
    os_ = c.running["order-status"]

    async def all_in() -> bool:
        got = [await get_json(os_, f"/v1/orders/{o}") for o in ids]
        return all(got) and [g["status"] for g in got] == ["received", "picked", "picked"]

    await eventually(all_in, timeout=30)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps({"OPEN": "received", "In Pick": "picked", "SHIPPED": "shipped", "NOTE": None})
    )
    export = tmp_path / "orders.csv"
    export.write_text(
        "order_id,status,as_of\n"
        f"{ids[0]},open,\n"
        f"{ids[1]},in-pick,\n"
        f"{ids[2]},SHIPPED,\n"  # distsync has it picked: behind on shipped
        f"{ids[1]},OPEN,{(t0 + timedelta(minutes=1)).isoformat()}\n"  # before the pick: agrees
        f"{ids[0]},In Pick,{(t0 + timedelta(minutes=1)).isoformat()}\n"  # behind on picked
        "ORD-NOT-THERE,open,\n"
        f"{ids[0]},NOTE,\n"
        f"{ids[0]},LOST,\n"  # line 9: not in the mapping
    )
    rc, out, err = await run_cli(c, "orders", str(export), "--mapping", str(mapping), "--json")
    assert rc == 1, err
    doc = json.loads(out)
    got = {(d["order_id"], d["line"]): (d["kind"], d["milestone"]) for d in doc["disagreements"]}
    assert got == {
        (ids[2], 4): ("distsync_behind", "shipped"),
        (ids[0], 6): ("distsync_behind", "picked"),
        ("ORD-NOT-THERE", 7): ("missing", "received"),
    }
    assert doc["agree"] == 3 and doc["skipped"] == 1 and doc["out_of_step"] == 3
    assert [b["line"] for b in doc["bad"]] == [9]


async def test_a_key_counted_after_the_snapshot_is_not_comparable_rather_than_a_variance(
    stack: Cluster, tmp_path: Path
) -> None:
    w = World(stack)
    await w.build()
    # the WMS counts D at west after the snapshot's time: distsync's history before it is gone
    count = {"location": w.west, "sku": w.d, "counted_qty": 4, "user": "t"}
    await stack.publish("wms.events", "inventory.counted", count, source=WMS, time=w.at(45))
    av = stack.running["availability"]

    async def counted() -> bool:
        p = await get_json(av, f"/v1/availability/{w.d}/{w.west}")
        return bool(p and p["on_hand"] == 4)

    await eventually(counted, timeout=20)
    rows = w.matching()
    rows[3][2] = "1"  # whatever the snapshot says, it cannot be judged
    rc, out, err = await run_cli(
        stack,
        "stock",
        str(write_csv(tmp_path / "s.csv", rows)),
        "--json",
        "--sku-prefix",
        w.prefix,
    )
    assert rc == 0, err  # nothing beyond tolerance: the one difference cannot be placed
    doc = json.loads(out)
    assert doc["not_comparable"] == 1 and doc["keys_with_variance"] == 0
    [only] = doc["largest"]
    assert (only["sku"], only["not_comparable"], only["variance"]) == (
        w.d,
        "counted_after_as_of",
        None,
    )
