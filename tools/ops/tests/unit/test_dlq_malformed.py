"""The dlq tools read any message, however malformed, and the admin API refuses to run open.

Bodies nested 10,000 levels deep, not UTF-8, 5 MB, without properties; headers of odd types;
properties pamqp cannot decode at all (a timestamp past the year 9999, a `message_id` that is not
UTF-8, header tables nested 10,000 levels deep): each reads as a `DeadLetter` whose summary,
record and `show` text can be written, and goes back to the broker byte for byte."""

from __future__ import annotations

import argparse
import json
import struct
from decimal import Decimal
from typing import Any

import httpx
import pamqp.frame
import pytest
from fastapi.encoders import jsonable_encoder
from pamqp import commands as spec

from distsync_ops import dlq as D
from distsync_ops import dlq_api as A
from distsync_ops import dlq_cli as C
from distsync_ops.dlq.archiving import _archive_doc
from distsync_ops.dlq_render import render_show
from distsync_ops.dlq_run import EXIT_USAGE
from shared import amqp_wire as wire
from shared import failures as F
from tools.ops.tests.dlq_support import amqp_table, deep_headers

DEEP_JSON = b"[" * 10_000 + b"]" * 10_000
TOKEN = "t0ken-for-the-tests-0123456789"


def letter(body: bytes, headers: dict[str, Any] | None = None, **kw: Any) -> D.DeadLetter:
    return D.DeadLetter(
        queue="returns.dlq",
        body=body,
        properties=kw.pop("properties", {}),
        headers=headers or {},
        exchange=kw.pop("exchange", "returns.dlx"),
        routing_key=kw.pop("routing_key", "rma.authorized"),
        **kw,
    )


def readable(m: D.DeadLetter) -> dict[str, Any]:
    """Everything a reader produces from `m`: summary (CLI JSON and HTTP), text, record."""
    summary = m.summary(3)
    json.dumps(summary, default=str)
    jsonable_encoder(summary)  # what FastAPI does with a response
    render_show([m], 3)
    render_show([m], 3, full=True)
    json.dumps(m.record(archive_id="a", seq=0), default=str)
    D.summarize("returns", "returns.dlq", 1, [m], 3).as_dict()
    assert isinstance(m.group, str) and isinstance(m.event_type, str)
    return summary


def test_a_body_nested_ten_thousand_levels_deep_is_shown_as_text():
    m = letter(DEEP_JSON)
    s = readable(m)
    assert m.event is None and s["event"] is None
    assert "deep" in (s["body_problem"] or "")
    assert s["body"].startswith("[[[[") and len(s["body"]) == D.message.EXCERPT_CHARS
    assert m.exception_type == "unknown" and m.event_id is None


def test_a_body_nested_deeper_than_the_limit_is_not_decoded_even_if_python_could():
    body = b'{"a":' * 100 + b"1" + b"}" * 100
    assert json.loads(body)  # within the recursion limit
    m = letter(body)
    assert m.event is None and "deeper than 64" in (readable(m)["body_problem"] or "")
    shallow = letter(b'{"id": "e-1", "type": "rma.authorized", "data": {"a": [[1]]}}')
    assert shallow.event is not None and shallow.event_id == "e-1"


def test_a_body_that_is_not_utf8_reads_as_an_excerpt_with_its_bytes_escaped():
    m = letter(b'\xff\xfe{"id": \x80 "x"}')
    s = readable(m)
    assert s["event"] is None and s["body_problem"] == "not UTF-8 text"
    assert s["body"].startswith("\\xff\\xfe{") and "\\x80" in s["body"]


def test_a_five_megabyte_event_is_summarized_by_an_excerpt_and_still_selectable():
    body = json.dumps({"id": "big-1", "type": "rma.authorized", "data": "x" * 5_000_000})
    m = letter(body.encode())
    s = readable(m)
    assert (m.event_id, m.event_type) == ("big-1", "rma.authorized")
    assert s["event"] is None and s["body_bytes"] > 5_000_000
    assert len(s["body"]) == D.message.EXCERPT_CHARS and s["body"].startswith('{"id": "big-1"')
    assert m.record()["event"] is None and D.Selector(ids=("big-1",)).matches(m)


def test_headers_of_odd_types_never_break_reading_or_replaying():
    m = letter(
        b"{}",
        {
            F.H_ATTEMPTS: "many",
            F.H_REPLAY_COUNT: float("inf"),
            F.H_LAST: "9" * 30 + "d",
            F.H_FIRST: "99999999999d",
            F.H_EXC_TYPE: {"nested": [1, {"x": bytearray(b"\xff")}]},
            F.H_EXC_MSG: Decimal("1E+5"),
            F.H_SERVICE: ["not", "a", "name"],
            F.H_TYPE: 3.5,
            "x-death": "not a list",
            "x-delivery-count": "lots",
            "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {}}}}}}}}}}},
        },
    )
    readable(m)
    assert (m.attempts, m.replay_count, m.returns) == (0, 0, 0)
    assert m.last_failure is None and m.first_failure is None
    h = D.replay_headers(m, "amy", D.parse_time("2026-11-27T03:00Z"))
    D.amqp_properties(m, h).marshal()  # encodable as it stands
    assert letter(b"{}", {F.H_ATTEMPTS: 10**400}).attempts == 0
    odd_mode = letter(b"{}", properties={"delivery_mode": 7})
    assert D.amqp_properties(odd_mode, {}).delivery_mode == 2  # pamqp refuses 7


def test_a_message_without_properties_or_headers_has_no_id_time_or_story():
    m = letter(b"not json at all", exchange="", routing_key="returns.dlq")
    s = readable(m)
    assert (m.event_id, m.last_failure, m.exception_type) == (None, None, "unknown")
    assert s["body"] == "not json at all" and s["body_problem"].startswith("not JSON")
    assert m.reentered and m.original_exchange == "" and D.same_headers(m) == {}


def test_replay_never_sends_a_message_whose_origin_is_unknown_straight_back_into_its_dlq():
    from distsync_ops.dlq.replaying import _back_into_dlq

    assert _back_into_dlq("returns.dlx", "rma.authorized", "returns.dlq")
    assert _back_into_dlq("", "returns.dlq", "returns.dlq")
    assert not _back_into_dlq("", "returns.main", "returns.dlq")  # --direct
    assert not _back_into_dlq("wms.events", "rma.authorized", "returns.dlq")
    assert not _back_into_dlq("erp.events", "po.created", "unrouted")


# --- properties pamqp cannot decode ------------------------------------------------------------


UNDECODABLE = {
    "timestamp past the year 9999": struct.pack(">H", 64) + struct.pack(">Q", 2**62),
    "message_id not UTF-8": struct.pack(">H", 128) + b"\x03\xff\xfe\xfd",
    "headers nested 10,000 deep": struct.pack(">H", 8192) + deep_headers(10_000),
    "unknown field type": struct.pack(">H", 8192 | 128) + amqp_table(b"\x01aZ") + b"\x02id",
}


def header_frame(raw_properties: bytes, body_size: int = 3) -> bytes:
    payload = struct.pack(">HHQ", 60, 0, body_size) + raw_properties
    return struct.pack(">BHI", 2, 1, len(payload)) + payload + b"\xce"


@pytest.mark.parametrize("case", sorted(UNDECODABLE))
def test_properties_pamqp_cannot_decode_are_read_leniently_and_kept_byte_for_byte(case):
    raw = UNDECODABLE[case]
    wire.tolerate_undecodable_properties()
    _, _, header = pamqp.frame.unmarshal(header_frame(raw))
    props = header.properties
    assert isinstance(props, wire.RawProperties) and header.body_size == 3
    assert props.marshal() == raw and props.problem
    m = D.DeadLetter(
        "returns.dlq",
        b"abc",
        {n: getattr(props, n) for n in D.PROPERTY_NAMES if getattr(props, n) is not None},
        dict(props.headers or {}),
        "returns.dlx",
        "rma.authorized",
        raw_properties=props.raw,
        undecodable=props.problem,
    )
    s = readable(m)
    assert m.exception_type == "UndecodableProperties" and s["undecodable_properties"]
    assert D.amqp_properties(m, D.same_headers(m), keep_missing_id=True).marshal() == raw
    rec = json.loads(json.dumps(m.record(archive_id="a", seq=0), default=str))
    for form in (rec, _archive_doc(rec)):
        assert D.DeadLetter.from_record(form).raw_properties == raw


def test_lenient_reading_recovers_what_it_can():
    stamp = wire.lenient_properties(UNDECODABLE["timestamp past the year 9999"], "x")
    assert stamp.timestamp is None
    mid = wire.lenient_properties(UNDECODABLE["message_id not UTF-8"], "x")
    assert mid.message_id == "\ufffd\ufffd\ufffd"
    deep = wire.lenient_properties(UNDECODABLE["headers nested 10,000 deep"], "x")
    level, depth = deep.headers, 0
    while isinstance(level, dict):
        level, depth = level["a"], depth + 1
    assert level == wire.TOO_DEEP and depth == wire.MAX_TABLE_DEPTH
    unknown = wire.lenient_properties(UNDECODABLE["unknown field type"], "x")
    assert unknown.message_id is None and "unreadable" in unknown.problem


def test_properties_pamqp_decodes_are_left_to_it():
    wire.tolerate_undecodable_properties()
    wire.tolerate_undecodable_properties()  # idempotent
    raw = spec.Basic.Properties(message_id="m-1", headers={"a": 1}, delivery_mode=2).marshal()
    _, _, header = pamqp.frame.unmarshal(header_frame(raw))
    assert type(header.properties) is spec.Basic.Properties
    assert header.properties.message_id == "m-1" and header.properties.headers == {"a": 1}


# --- the admin API runs only with authentication ---------------------------------------------


@pytest.fixture
def no_api_env(monkeypatch):
    for name in ("TOKEN", "INSECURE_LOCAL", "ALLOWED_HOSTS"):
        monkeypatch.delenv(f"DISTSYNC_DLQ_API_{name}", raising=False)


def test_the_admin_api_refuses_to_start_without_a_token(no_api_env, capsys):
    with pytest.raises(A.InsecureStart, match="DISTSYNC_DLQ_API_TOKEN"):
        A.create_dlq_app(D.DlqSettings())
    with pytest.raises(A.InsecureStart, match="shorter than 16"):
        A.create_dlq_app(D.DlqSettings(dlq_api_token="s3cret"))
    p = argparse.ArgumentParser(prog="distsync")
    C.register(p.add_subparsers(dest="command"))
    args = p.parse_args(["dlq", "serve", "--port", "0"])
    assert C.cmd_serve(args) == EXIT_USAGE
    assert "DISTSYNC_DLQ_API_TOKEN" in capsys.readouterr().err


def test_insecure_local_runs_without_a_token_but_only_on_loopback(no_api_env):
    local = D.DlqSettings(dlq_api_insecure_local=True)
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        A.check_start(local, host)
    for host in ("0.0.0.0", "::", "192.168.1.5", "dlq.example.com"):
        with pytest.raises(A.InsecureStart, match="loopback"):
            A.check_start(local, host)
    A.create_dlq_app(local)


def test_the_host_check_reads_ports_and_ipv6_and_wildcards():
    allowed = ["localhost", "127.0.0.1", "::1", "*.ops.example.com"]
    for ok in (
        "localhost",
        "LOCALHOST:8090",
        "127.0.0.1:8090",
        "[::1]:8090",
        "dlq.ops.example.com",
    ):
        assert A.host_allowed(ok, allowed), ok
    for bad in ("evil.example", "127.0.0.1.evil.example:80", "", "[::2]:8090", "ops.example.com"):
        assert not A.host_allowed(bad, allowed), bad


def api(settings: D.DlqSettings, host: str = "127.0.0.1:8090") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=A.create_dlq_app(settings))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{host}")


async def test_the_admin_api_answers_401_without_the_token_and_400_to_a_foreign_host(no_api_env):
    s = D.DlqSettings(dlq_api_token=TOKEN)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with api(s) as http:
        for method, path in (("GET", "/v1/dlq"), ("POST", "/v1/dlq/returns/purge")):
            r = await http.request(method, path, json={"all": True})
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        r = await http.post(
            "/v1/dlq/returns/replay", json={"all": True}, headers={"Authorization": "Bearer x"}
        )
        assert r.status_code == 401
        assert (await http.get("/healthz")).status_code == 200
    async with api(s, host="attacker.example") as http:
        assert (await http.get("/v1/dlq", headers=bearer)).status_code == 400
        assert (await http.get("/healthz")).status_code == 400
    named = D.DlqSettings(dlq_api_token=TOKEN, dlq_api_allowed_hosts="dlq.ops.example.com")
    async with api(named, host="dlq.ops.example.com") as http:
        assert (await http.get("/healthz")).status_code == 200
    async with api(named) as http:
        assert (await http.get("/healthz")).status_code == 400
