"""The ingress end to end: events posted over HTTP and files dropped in its folder reach the
services through the real broker and database, once; bad input is refused and changes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from distsync_sim.testing import free_port
from ingress.main import SERVICE as INGRESS
from ingress.settings import IngressSettings
from shared.runtime import ServiceRuntime
from tests.e2e.harness import Cluster, Running, eventually, get_json

pytestmark = pytest.mark.e2e

CE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


async def start_ingress(
    cluster: Cluster, drop_dir: Path, order_status_url: str, availability_url: str
) -> Running:
    port = free_port()
    settings = IngressSettings(
        amqp_url=cluster.amqp_url,
        mongodb_url=cluster.mongodb_url,
        mongodb_db=f"e2e_{cluster.tag}_ingress",
        http_port=port,
        log_json=False,
        retry_delays_s=[1],
        ingress_drop_dir=str(drop_dir),
        ingress_order_status_url=order_status_url,
        ingress_availability_url=availability_url,
    )
    rt = ServiceRuntime(INGRESS, settings, auth=cluster.auth)
    await rt.start(serve_http=True)
    running = Running("ingress", rt, f"http://127.0.0.1:{port}")
    cluster.running["ingress"] = running
    return running


def event(type_: str, data: dict[str, Any], source: str, at: datetime, **ext: Any) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": at.isoformat().replace("+00:00", "Z"),
        "data": data,
        **ext,
    }


@pytest.fixture
async def stack(cluster: Cluster, tmp_path: Path) -> dict[str, Running]:
    running = await cluster.start("availability", "order-status")
    urls = running["order-status"].url, running["availability"].url
    await start_ingress(cluster, tmp_path / "drop", *urls)
    return cluster.running


async def position(av: Running, sku: str, loc: str) -> dict | None:
    return await get_json(av, f"/v1/availability/{sku}/{loc}")


async def test_an_order_posted_over_http_reaches_order_status_and_availability(stack):
    ing, av, os_ = stack["ingress"], stack["availability"], stack["order-status"]
    sku, order = f"SKU-{uuid.uuid4().hex[:8]}", f"ORD-{uuid.uuid4().hex[:8]}"
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    count = event(
        "inventory.counted",
        {"location": "DC-1", "sku": sku, "counted_qty": 50, "user": "t"},
        "wms/dc-1",
        t0,
    )
    created = event(
        "order.created",
        {
            "order_id": order,
            "channel": "web",
            "customer_id": "C-1",
            "lines": [{"line_id": "1", "sku": sku, "qty": 4}],
        },
        "erp/main",
        t0 + timedelta(seconds=1),
        correlationid=order,
    )
    allocated = event(
        "order.allocated",
        {"order_id": order, "lines": [{"line_id": "1", "sku": sku, "location": "DC-1", "qty": 4}]},
        "erp/main",
        t0 + timedelta(seconds=2),
        correlationid=order,
    )
    async with ing.client() as c:
        r = await c.post("/v1/events", content=json.dumps(count), headers={"content-type": CE})
        assert r.status_code == 202, r.text
        r = await c.post("/v1/events", content=json.dumps(created), headers={"content-type": CE})
        assert r.status_code == 202, r.text
        assert r.json()["events"] == [
            {
                "id": created["id"],
                "type": "order.created",
                "status": "accepted",
                "links": {"status": f"{os_.url}/v1/orders/{order}"},
            }
        ]
        assert r.headers["location"] == f"{os_.url}/v1/orders/{order}"
        # binary mode: attributes as ce-* headers, the body is the data
        headers = {
            "ce-specversion": "1.0",
            "ce-id": allocated["id"],
            "ce-source": "erp/main",
            "ce-type": "order.allocated",
            "ce-time": allocated["time"],
            "ce-correlationid": order,
            "content-type": "application/json",
        }
        r = await c.post("/v1/events", content=json.dumps(allocated["data"]), headers=headers)
        assert r.status_code == 202, r.text
        location = created_location = f"{os_.url}/v1/orders/{order}"
    async with httpx.AsyncClient() as c:

        async def order_known() -> Any:
            resp = await c.get(location)
            return resp.status_code == 200 and resp.json()

        got = await eventually(order_known)
    assert got["order_id"] == order and created_location.endswith(order)

    async def allocated_now() -> Any:
        p = await position(av, sku, "DC-1")
        return p if p and p["allocated"] == 4 else None

    p = await eventually(allocated_now)
    assert p["on_hand"] == 50 and p["available_to_sell"] == 46


async def test_a_csv_of_counts_dropped_twice_changes_positions_once(stack, cluster, tmp_path):
    ing, av = stack["ingress"], stack["availability"]
    variances = await cluster.listen("availability.events", "availability.variance_detected")
    sku_a, sku_b = f"SKU-{uuid.uuid4().hex[:8]}", f"SKU-{uuid.uuid4().hex[:8]}"
    counts_dir = tmp_path / "drop" / "counts"
    counts_dir.mkdir(parents=True, exist_ok=True)
    csv = f"location,sku,counted_qty,user\nDC-2,{sku_a},10,cc\nDC-2,{sku_b},7,cc\n".encode()
    (counts_dir / "counts-1.csv").write_bytes(csv)

    async def on_hand(sku: str, qty: float) -> Any:
        p = await position(av, sku, "DC-2")
        return p if p and p["on_hand"] == qty else None

    await eventually(lambda: on_hand(sku_a, 10))
    await eventually(lambda: on_hand(sku_b, 7))
    await eventually(lambda: _exists(counts_dir / "done" / "counts-1.csv"))
    report = json.loads((counts_dir / "done" / "counts-1.csv.report.json").read_text())
    assert report["events_accepted"] == 2 and report["rows_refused"] == 0
    # a later movement, then the same file again: the count must not be applied a second time
    adjust = event(
        "inventory.adjusted",
        {"location": "DC-2", "sku": sku_a, "qty_delta": 5, "reason_code": "FOUND", "user": "t"},
        "wms/dc-2",
        datetime.now(UTC),
    )
    async with ing.client() as c:
        r = await c.post("/v1/events", content=json.dumps(adjust), headers={"content-type": CE})
        assert r.status_code == 202, r.text
    await eventually(lambda: on_hand(sku_a, 15))
    (counts_dir / "counts-1.csv").write_bytes(csv)

    async def second_done() -> Any:
        done = sorted((counts_dir / "done").glob("counts-1.csv.*.report.json"))
        return done and json.loads(done[0].read_text())

    again = await eventually(second_done)
    assert again["events_accepted"] == 0 and again["events_duplicate"] == 2
    assert again["id"] == report["id"]
    async with ing.client() as c:
        r = await c.get(f"/v1/files/{report['id']}")
    assert r.status_code == 200 and r.json()["times_received"] == 2
    # a marker movement after the second drop: had the count been applied again (stamped at
    # the second drop, before the marker), on_hand would end at 10 + 1; applied once, 15 + 1
    marker = event(
        "inventory.adjusted",
        {"location": "DC-2", "sku": sku_a, "qty_delta": 1, "reason_code": "FOUND", "user": "t"},
        "wms/dc-2",
        datetime.now(UTC),
    )
    async with ing.client() as c:
        r = await c.post("/v1/events", content=json.dumps(marker), headers={"content-type": CE})
        assert r.status_code == 202, r.text

    async def settled() -> Any:
        p = await position(av, sku_a, "DC-2")
        return p if p and p["on_hand"] in (11, 16) else None

    assert (await eventually(settled))["on_hand"] == 16
    mine = [v for v in variances if v["data"]["sku"] in (sku_a, sku_b)]
    assert len(mine) == 2


async def _exists(p: Path) -> bool:
    return p.exists()


async def test_bad_input_gets_a_clear_error_and_changes_nothing(stack):
    ing, av = stack["ingress"], stack["availability"]
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    good = event(
        "inventory.adjusted",
        {"location": "DC-3", "sku": sku, "qty_delta": 9, "reason_code": "X", "user": "t"},
        "wms/dc-3",
        now,
    )
    bad = event(
        "inventory.counted",
        {"location": "DC-3", "sku": sku, "counted_qty": -1, "user": "t"},
        "wms/dc-3",
        now,
    )
    wrong_system = event(
        "inventory.adjusted",
        {"location": "DC-3", "sku": sku, "qty_delta": 1, "reason_code": "X", "user": "t"},
        "carrier/ups",
        now,
    )
    async with ing.client() as c:
        r = await c.post(
            "/v1/events", content=json.dumps([good, bad]), headers={"content-type": BATCH}
        )
        assert r.status_code == 422, r.text
        body = r.json()
        assert [e["index"] for e in body["events"]] == [1]
        assert body["events"][0]["kind"] == "schema_invalid"
        assert "counted_qty" in body["events"][0]["reason"]
        r = await c.post(
            "/v1/events", content=json.dumps(wrong_system), headers={"content-type": CE}
        )
        assert r.status_code == 422 and "carrier publishes on carrier.events" in r.text
        r = await c.post("/v1/events", content=b"{not json", headers={"content-type": CE})
        assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
        # a file with a refused row: the report names the line, the good row goes through
        csv = f"location,sku,qty_delta,reason_code,user\nDC-3,{sku},abc,X,t\n".encode()
        r = await c.post("/v1/files/adjustments", content=csv, headers={"content-type": "text/csv"})
        assert r.status_code == 422, r.text
        assert r.json()["refused"] == [{"line": 2, "reason": "qty_delta 'abc' is not a number"}]
        # nothing of the refused batch was published: the good event's id is unknown
        r = await c.get(f"/v1/events/{good['id']}")
        assert r.status_code == 404
        # the same good event alone now goes through, and proves the position was untouched
        r = await c.post("/v1/events", content=json.dumps(good), headers={"content-type": CE})
        assert r.status_code == 202 and r.json()["events"][0]["status"] == "accepted"
        r = await c.post("/v1/events", content=json.dumps(good), headers={"content-type": CE})
        assert r.status_code == 202 and r.json()["events"][0]["status"] == "duplicate"
        # refusals and acceptances are counted by source and reason
        metrics = (await c.get("/metrics")).text
    counted = {
        (s.labels["channel"], s.labels["source"], s.labels["outcome"], s.labels["reason"])
        for f in text_string_to_metric_families(metrics)
        if f.name == "distsync_ingress_events"
        for s in f.samples
        if s.name.endswith("_total") and s.value > 0
    }
    assert {
        ("http", "wms", "refused", "schema_invalid"),
        ("http", "carrier", "refused", "contract_violation"),
        ("http", "other", "refused", "malformed"),
        ("http", "wms", "accepted", "accepted"),
        ("http", "wms", "duplicate", "duplicate"),
        ("file", "wms", "refused", "schema_invalid"),
    } <= counted

    async def adjusted() -> Any:
        p = await position(av, sku, "DC-3")
        return p if p and p["on_hand"] == 9 else None

    await eventually(adjusted)


def x12_856(asn: str, po: str, loc: str, control: str, *, se_count: int = 15) -> str:
    """One 856 ship notice (ISA/GS/ST envelope, counts right unless `se_count` says not)."""
    body = [
        "ST*856*0001",
        f"BSN*00*{asn}*20261201*1230",
        "DTM*017*20261205",
        "HL*1**S",
        f"N1*ST*Receiving*92*{loc}",
        "HL*2*1*O",
        f"PRF*{po}",
        "HL*3*2*I",
        "LIN*1*SK*SKU-1",
        "SN1**10*EA",
        "HL*4*2*I",
        "LIN*2*SK*SKU-2",
        "SN1**4*EA",
        "CTT*4",
        f"SE*{se_count}*0001",
    ]
    isa = (
        "ISA*00*          *00*          *ZZ*SUPPLIER1      *ZZ*DISTSYNC       "
        f"*261201*1200*U*00401*{control}*0*P*>"
    )
    lines = [isa, "GS*SH*SUPPLIER1*DISTSYNC*20261201*1200*7*X*004010", *body, "GE*1*7"]
    return "~\n".join([*lines, f"IEA*1*{control}"]) + "~\n"


async def test_an_856_becomes_asn_received_and_is_acknowledged(stack, cluster):
    ing = stack["ingress"]
    asns = await cluster.listen("commerce.events", "asn.received")
    asn, po = f"ASN-{uuid.uuid4().hex[:6]}", f"PO-{uuid.uuid4().hex[:6]}"
    control = f"{uuid.uuid4().int % 10**9:09d}"
    x12 = {"content-type": "application/edi-x12"}
    async with ing.client() as c:
        r = await c.post("/v1/edi", content=x12_856(asn, po, "DC-9", control), headers=x12)
        assert r.status_code == 202, r.text
        body = r.json()
        assert body["transactions"][0]["status"] == "accepted"
        assert "AK5*A~" in body["ack"] and "AK9*A*1*1*1~" in body["ack"]
        # the same interchange again: acknowledged, but nothing published twice
        r = await c.post("/v1/edi", content=x12_856(asn, po, "DC-9", control), headers=x12)
        assert r.status_code == 202
        assert r.json()["transactions"][0]["events"][0]["status"] == "duplicate"
        # a count that does not add up: a 997 that rejects the set, and nothing published
        bad_asn = f"ASN-{uuid.uuid4().hex[:6]}"
        bad = x12_856(bad_asn, po, "DC-9", control[:-1] + "8", se_count=14)
        r = await c.post("/v1/edi", content=bad, headers={**x12, "accept": "application/edi-x12"})
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/edi-x12")
        assert "AK5*R*4~" in r.text and "AK9*R*1*1*0~" in r.text

    async def got_it() -> Any:
        return [e for e in asns if e["data"]["asn_id"] == asn]

    (ev,) = await eventually(got_it)
    assert ev["source"] == "edi/supplier1" and ev["correlationid"] == po
    assert ev["data"] == {
        "asn_id": asn,
        "po_id": po,
        "location": "DC-9",
        "expected_date": "2026-12-05",
        "lines": [
            {"po_line_id": "1", "sku": "SKU-1", "qty": 10},
            {"po_line_id": "2", "sku": "SKU-2", "qty": 4},
        ],
    }
    # a marker published after the bad interchange arrives; the bad ASN never did
    marker = f"ASN-{uuid.uuid4().hex[:6]}"
    async with ing.client() as c:
        text = x12_856(marker, po, "DC-9", f"{uuid.uuid4().int % 10**9:09d}")
        assert (await c.post("/v1/edi", content=text, headers=x12)).status_code == 202

    async def marker_seen() -> Any:
        return [e for e in asns if e["data"]["asn_id"] == marker]

    await eventually(marker_seen)
    assert not [e for e in asns if e["data"]["asn_id"] == bad_asn]
    assert len([e for e in asns if e["data"]["asn_id"] == asn]) == 1


async def test_an_846_is_produced_for_a_location_from_availability(stack, cluster, tmp_path):
    ing, av = stack["ingress"], stack["availability"]
    sku_a, sku_b = f"SKU-{uuid.uuid4().hex[:8]}", f"SKU-{uuid.uuid4().hex[:8]}"
    csv = f"location,sku,counted_qty,user\nDC-846,{sku_a},12,cc\nDC-846,{sku_b},3,cc\n"
    async with ing.client() as c:
        r = await c.post(
            "/v1/files/counts?name=c.csv", content=csv, headers={"content-type": "text/csv"}
        )
        assert r.status_code == 202 and r.json()["events_accepted"] == 2

    async def counted() -> Any:
        p = await position(av, sku_b, "DC-846")
        return p and p["on_hand"] == 3

    await eventually(counted)
    unknown = f"SKU-{uuid.uuid4().hex[:8]}"
    async with ing.client() as c:
        r = await c.get(
            "/v1/edi/846",
            params={"location": "DC-846", "sku": [sku_a, sku_b, unknown], "receiver": "BUYER1"},
        )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/edi-x12")
    segs = [s.strip().split("*") for s in r.text.split("~") if s.strip()]
    assert segs[2][:2] == ["ST", "846"] and segs[0][8].strip() == "BUYER1"
    qty = {}
    for i, s in enumerate(segs):
        if s[0] == "LIN":
            qty[s[3]] = (segs[i + 1][2], segs[i + 2][2])
    assert qty == {sku_a: ("12", "12"), sku_b: ("3", "3"), unknown: ("0", "0")}


def x12_set(code: str, sender: str, control: str, body: list[str]) -> str:
    st = [f"ST*{code}*0001", *body]
    isa = (
        f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*DISTSYNC       "
        f"*261201*1200*U*00401*{control}*0*P*>"
    )
    lines = [isa, f"GS*SW*{sender}*DISTSYNC*20261201*1200*3*X*004010", *st]
    lines += [f"SE*{len(st) + 1}*0001", "GE*1*3", f"IEA*1*{control}"]
    return "~\n".join(lines) + "~\n"


async def test_a_940_allocates_and_a_945_ships_an_order_taken_over_http(stack):
    ing, av, os_ = stack["ingress"], stack["availability"], stack["order-status"]
    sku, order = f"SKU-{uuid.uuid4().hex[:8]}", f"ORD-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    count = event(
        "inventory.counted",
        {"location": "DC-3PL", "sku": sku, "counted_qty": 20, "user": "t"},
        "wms/dc-3pl",
        now - timedelta(minutes=5),
    )
    created = event(
        "order.created",
        {
            "order_id": order,
            "channel": "edi",
            "customer_id": "C-9",
            "lines": [{"line_id": "1", "sku": sku, "qty": 6}],
        },
        "erp/main",
        now - timedelta(minutes=4),
    )
    x12 = {"content-type": "application/edi-x12"}
    control = lambda: f"{uuid.uuid4().int % 10**9:09d}"  # noqa: E731
    shipping_order = ["W05*N*" + order, "N1*WH*3PL*92*DC-3PL", "LX*1", f"W01*6*EA**SK*{sku}"]
    advice = [
        f"W06*F*{order}*20261201*SH-{order}",
        "N1*SF*3PL*92*DC-3PL",
        "W27*M*UPSN",
        "N9*2I*1Z" + order[-8:],
        "LX*1",
        f"W12*CC*6*6*0*EA**SK*{sku}",
    ]
    async with ing.client() as c:
        r = await c.post(
            "/v1/events", content=json.dumps([count, created]), headers={"content-type": BATCH}
        )
        assert r.status_code == 202, r.text
        r = await c.post(
            "/v1/edi", content=x12_set("940", "DEPOSITOR", control(), shipping_order), headers=x12
        )
        assert r.status_code == 202, r.text
        assert r.json()["transactions"][0]["events"][0]["type"] == "order.allocated"

        async def allocated() -> Any:
            p = await position(av, sku, "DC-3PL")
            return p and p["allocated"] == 6

        await eventually(allocated)
        r = await c.post(
            "/v1/edi", content=x12_set("945", "3PL-ONE", control(), advice), headers=x12
        )
        assert r.status_code == 202, r.text

    async def shipped() -> Any:
        p = await position(av, sku, "DC-3PL")
        return p if p and p["on_hand"] == 14 and p["allocated"] == 0 else None

    await eventually(shipped)

    async def order_shipped() -> Any:
        o = await get_json(os_, f"/v1/orders/{order}")
        return o if o and o["status"] == "shipped" else None

    o = await eventually(order_shipped)
    assert o["order_id"] == order
