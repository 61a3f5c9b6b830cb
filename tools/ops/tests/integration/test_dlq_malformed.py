"""Malformed messages sitting in a service's DLQ, on the real broker and database: every dlq
command and the admin API reads each one, shows a readable excerpt, and can remove it.

The messages: a body nested 10,000 levels deep, a body that is not UTF-8, a 5 MB event, a message
with no properties at all, headers of odd types, and three whose properties the AMQP library
cannot decode (a timestamp past the year 9999, a `message_id` that is not UTF-8, headers nested
10,000 levels deep); none carries failure headers, as when the broker dead-letters a message that
crashed its consumer."""

from __future__ import annotations

import io
import json
import struct
import uuid
from decimal import Decimal
from typing import Any

import aio_pika
import httpx
import pytest
from pamqp import commands as spec

from distsync_ops import dlq as D
from distsync_ops.dlq_api import create_dlq_app
from distsync_ops.dlq_render import render_show
from runtime_support import counter_service, queue_depth
from shared import failures as F
from shared.amqp_wire import RawProperties
from shared.topology import declare, service_topology
from tools.ops.tests.dlq_support import deep_headers, dlq_env, dlq_settings, run_dlq

pytestmark = pytest.mark.integration

TOKEN = "token-for-the-malformed-tests-0123"


def _props(**kw: Any) -> spec.Basic.Properties:
    return spec.Basic.Properties(delivery_mode=2, **kw)


HUGE = json.dumps({"id": "m-huge", "type": "thing.happened", "data": "x" * 5_000_000}).encode()
MALFORMED: dict[str, tuple[bytes, Any]] = {
    "nested": (b"[" * 10_000 + b"]" * 10_000, _props(message_id="m-nested")),
    "not-utf8": (b'\xff\xfe{"id": \x80 "x"}', _props(message_id="m-utf8")),
    "huge": (HUGE, _props(message_id="m-huge")),
    "bare": (b"a message without any property", D.PropertiesWithoutId()),
    "odd-headers": (
        b'{"id": "m-odd"}',
        _props(
            message_id="m-odd",
            headers={
                F.H_ATTEMPTS: 1e30,  # RabbitMQ refuses a NaN (its parser has none)
                F.H_REPLAY_COUNT: "lots",
                F.H_LAST: "9" * 30 + "d",
                F.H_FIRST: 12345,
                F.H_EXC_TYPE: {"nested": [1, {"x": bytearray(b"\xff")}]},
                F.H_EXC_MSG: Decimal("1E+5"),
                F.H_SERVICE: ["not", "a", "name"],
                F.H_TYPE: 3.5,
                "x-death": "not a list",
            },
        ),
    ),
    # delivery mode 2, then a timestamp of 2**62 (taken as ms: some 146 million years ahead)
    "stamp": (b"timestamp past 9999", struct.pack(">HBQ", 4096 | 64, 2, 2**62)),
    "bad-id": (b"message_id not UTF-8", struct.pack(">H", 128) + b"\x03\xff\xfe\xfd"),
    "deep-headers": (b"headers 10,000 deep", struct.pack(">H", 8192) + deep_headers(10_000)),
}
RAW = {"stamp", "bad-id", "deep-headers"}


async def seed(url: str) -> str:
    """A fresh service whose DLQ holds every malformed message, in MALFORMED's order."""
    svc = counter_service(f"mal-{uuid.uuid4().hex[:8]}")
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        await declare(ch, service_topology(svc))
    finally:
        await conn.close()
    async with D.Broker(url) as broker:
        for body, props in MALFORMED.values():
            p = RawProperties(props, "") if isinstance(props, bytes) else props
            await broker.publish("", D.queue_of(svc.name), body, p)
    return svc.name


def name_of(m: D.DeadLetter) -> str:
    return next(name for name, (body, _) in MALFORMED.items() if m.body == body)


def own_headers(m: D.DeadLetter) -> dict[str, Any]:
    """The headers it was published with: without those the queue adds on redelivery."""
    return {k: v for k, v in m.headers.items() if k not in D.BROKER_COUNTERS}


def settings(amqp_url: str, mongodb_url: str, db_name: str) -> D.DlqSettings:
    return dlq_settings(amqp_url, mongodb_url, db_name, dlq_api_token=TOKEN)


async def read_all(s: D.DlqSettings, service: str) -> dict[str, D.DeadLetter]:
    msgs = await D.show(s, service, limit=100)
    return {name_of(m): m for m in msgs}


async def test_list_show_and_export_read_every_malformed_message_and_leave_it_in_place(
    amqp_url, mongodb_url, db_name
):
    service = await seed(amqp_url)
    s = settings(amqp_url, mongodb_url, db_name)
    [q] = await D.list_queues(s, [service])
    assert q.error is None and q.depth == q.scanned == len(MALFORMED)
    assert "UndecodableProperties" in {g.exception_type for g in q.groups}

    shown = await read_all(s, service)
    assert list(shown) == list(MALFORMED)  # all of them, in order
    summary = {name: m.summary(3) for name, m in shown.items()}
    json.dumps(summary, default=str)
    assert "deep" in summary["nested"]["body_problem"]
    assert summary["nested"]["body"].startswith("[[[[[[")
    assert summary["not-utf8"]["body"].startswith('\\xff\\xfe{"id": \\x80')
    assert summary["huge"]["id"] == "m-huge" and summary["huge"]["body_bytes"] > 5_000_000
    assert summary["huge"]["event"] is None and len(summary["huge"]["body"]) == 2000
    assert shown["bare"].properties == {} and own_headers(shown["bare"]) == {}
    assert summary["bare"]["id"] is None and summary["bare"]["last_failure"] is None
    assert summary["odd-headers"]["attempts"] == 0
    for name in RAW:
        assert summary[name]["exception_type"] == "UndecodableProperties"
        assert summary[name]["undecodable_properties"]
        assert shown[name].raw_properties is not None
    assert summary["bad-id"]["id"] == "\ufffd\ufffd\ufffd"
    assert shown["stamp"].properties == {"delivery_mode": 2}  # the timestamp could not be read
    text = render_show(list(shown.values()), 3)
    assert "[[[[" in text and "\\xff\\xfe" in text and "not decodable as sent" in text

    out = io.StringIO()
    o = await D.export(s, service, D.Selector(), out)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert o.done == len(lines) == len(MALFORMED)
    assert await queue_depth(amqp_url, D.queue_of(service)) == len(MALFORMED)


async def test_purge_archives_and_removes_each_and_restore_puts_them_back_byte_for_byte(
    amqp_url, mongodb_url, db_name, tmp_path
):
    service = await seed(amqp_url)
    s = settings(amqp_url, mongodb_url, db_name)
    queue = D.queue_of(service)
    o = await D.archive(s, service, D.Selector(), purge=False)
    assert (o.done, o.failed) == (len(MALFORMED), 0)
    assert await queue_depth(amqp_url, queue) == len(MALFORMED)
    o = await D.archive(s, service, D.Selector(), purge=True, file=str(tmp_path / "p.jsonl"))
    assert (o.done, o.failed) == (len(MALFORMED), 0)
    assert await queue_depth(amqp_url, queue) == 0

    archived = {
        name_of(D.DeadLetter.from_record(r)): D.DeadLetter.from_record(r)
        for r in D.read_jsonl(str(tmp_path / "p.jsonl"))
    }
    r = await D.restore(s, o.archive_id)
    assert (r.done, r.failed) == (len(MALFORMED), 0)
    back = await read_all(s, service)
    assert list(back) == list(MALFORMED)
    for name, m in back.items():
        body, props = MALFORMED[name]
        assert m.body == body
        if name in RAW:  # the bytes as the purge read them (the broker adds its counters)
            assert m.raw_properties == archived[name].raw_properties is not None
        else:
            assert m.properties == archived[name].properties
            assert m.properties.get("message_id") == props.message_id
            assert own_headers(m) == own_headers(archived[name])

    # one group alone, archived to a file only
    [q] = await D.list_queues(s, [service])
    group = next(g.id for g in q.groups if g.exception_type == "UndecodableProperties")
    sel = D.Selector(groups=(group,))
    o = await D.archive(s, service, sel, purge=True, use_db=False, file=str(tmp_path / "r.jsonl"))
    assert o.done == len(RAW)
    assert await queue_depth(amqp_url, queue) == len(MALFORMED) - len(RAW)


async def test_replay_sends_each_where_told_and_never_back_into_its_own_dlq(
    amqp_url, mongodb_url, db_name
):
    service = await seed(amqp_url)
    s = settings(amqp_url, mongodb_url, db_name)
    queue = D.queue_of(service)
    o = await D.replay(s, service, D.Selector(), D.ReplayOptions())
    # published into the DLQ by hand: where they first went is unknown, so they stay
    assert (o.done, o.failed) == (0, len(MALFORMED))
    assert "unknown" in o.errors[0]
    assert await queue_depth(amqp_url, queue) == len(MALFORMED)

    conn = await aio_pika.connect(amqp_url)
    try:
        ch = await conn.channel()
        ex = await ch.declare_exchange(f"{service}.replays", aio_pika.ExchangeType.FANOUT)
        sink = await ch.declare_queue(
            f"{service}.sink", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await sink.bind(ex)
    finally:
        await conn.close()
    o = await D.replay(s, service, D.Selector(), D.ReplayOptions(to=f"{service}.replays"))
    assert (o.done, o.failed) == (len(MALFORMED), 0)
    assert await queue_depth(amqp_url, queue) == 0
    assert await queue_depth(amqp_url, f"{service}.sink") == len(MALFORMED)


async def test_the_admin_api_lists_shows_exports_and_purges_malformed_messages(
    amqp_url, mongodb_url, db_name
):
    service = await seed(amqp_url)
    app = create_dlq_app(settings(amqp_url, mongodb_url, db_name))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8090", headers=headers, timeout=120
    ) as http:
        r = await http.get("/v1/dlq", params={"service": service})
        assert r.status_code == 200 and r.json()[0]["depth"] == len(MALFORMED)
        r = await http.get(f"/v1/dlq/{service}/messages", params={"limit": 100})
        assert r.status_code == 200 and len(r.json()) == len(MALFORMED)
        assert {m["body"][:4] for m in r.json() if m["event"] is None} >= {"[[[[", "\\xff"}
        r = await http.get(f"/v1/dlq/{service}/export")
        assert r.status_code == 200 and len(r.text.splitlines()) == len(MALFORMED)
        r = await http.post(f"/v1/dlq/{service}/purge", params={"wait": "true"}, json={"all": True})
        assert r.status_code == 200 and r.json()["outcome"]["done"] == len(MALFORMED)
    assert await queue_depth(amqp_url, D.queue_of(service)) == 0


async def test_the_command_line_reads_and_removes_malformed_messages(
    amqp_url, mongodb_url, db_name, tmp_path
):
    service = await seed(amqp_url)
    env = dlq_env(amqp_url, mongodb_url, db_name)

    async def cli(*args: str) -> tuple[int, str, str]:
        return await run_dlq(*args, env=env, timeout=180)

    code, out, err = await cli("list", service)
    assert code == 0, err
    assert "UndecodableProperties" in out
    code, out, err = await cli("show", service, "--limit", "100")
    assert code == 0, err
    assert "[[[[" in out and "\\xff\\xfe" in out and "5,0" in out
    code, out, err = await cli("show", service, "--limit", "100", "--full", "--json")
    assert code == 0 and len(json.loads(out)) == len(MALFORMED), err
    code, out, err = await cli("export", service, "--file", str(tmp_path / "x.jsonl"))
    assert code == 0, err
    code, out, err = await cli("replay", service, "--dry-run")
    assert code == 0, err
    code, out, err = await cli("archive", service, "--no-db", "--file", str(tmp_path / "a.jsonl"))
    assert code == 0, err
    code, out, err = await cli("purge", service, "--yes", "--json")
    assert code == 0 and json.loads(out)["done"] == len(MALFORMED), err
    assert await queue_depth(amqp_url, D.queue_of(service)) == 0
