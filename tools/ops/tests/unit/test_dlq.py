"""The dlq tools' pure parts: what a dead-lettered message says, selectors, replay headers, the
archive format, the rate limiter, the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from distsync_ops import dlq as D
from distsync_ops import dlq_cli as C
from distsync_ops.dlq.archiving import _archive_doc
from distsync_ops.dlq_render import render_outcome, table
from distsync_ops.dlq_run import confirm
from shared import failures as F
from shared.envelope import build
from tools.ops.tests.dlq_support import failed_headers

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def failed(
    body: bytes | None = None, *, queue: str = "availability.dlq", **headers: object
) -> D.DeadLetter:
    ev = build("inventory.adjusted", {"sku": "S1"}, source="wms/dc-east", id="ev-1")
    h = failed_headers("availability", event_type="inventory.adjusted", **headers)
    return D.DeadLetter(
        queue=queue,
        body=ev.to_json_bytes() if body is None else body,
        properties={"message_id": "ev-1", "message_type": "inventory.adjusted"},
        headers=h,
        exchange="availability.dlx",
        routing_key="inventory.adjusted",
    )


def test_a_runtime_dead_lettered_message_tells_what_failed_where_and_when():
    m = failed()
    assert (m.event_id, m.event_type, m.service) == ("ev-1", "inventory.adjusted", "availability")
    assert (m.exception_type, m.attempts, m.replay_count) == ("Rejected", 1, 0)
    assert (m.original_exchange, m.original_routing_key) == ("wms.events", "inventory.adjusted")
    assert m.first_failure is not None and m.first_failure == m.last_failure
    assert m.event is not None and m.event["source"] == "wms/dc-east"
    assert m.group == D.group_id("Rejected", "inventory.adjusted", "availability")
    assert m.group_key == "Rejected|inventory.adjusted|availability"


def test_a_message_the_broker_dead_lettered_is_traced_back_through_x_death():
    t = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    m = D.DeadLetter(
        queue="receipt.dlq",
        body=b"{}",
        properties={},
        headers={
            "x-first-death-reason": "delivery_limit",
            "x-first-death-exchange": "erp.events",
            "x-death": [
                {"exchange": "erp.events", "routing-keys": ["po.created"], "time": t, "count": 1}
            ],
        },
        exchange="receipt.dlx",
        routing_key="po.created",
    )
    assert m.exception_type == "broker:delivery_limit"
    assert (m.original_exchange, m.original_routing_key) == ("erp.events", "po.created")
    assert m.last_failure == t and m.service == "receipt"
    h = D.replay_headers(m, "amy", NOW)
    assert not any(k.startswith("x-") for k in h)
    assert (h[F.H_ORIG_EXCHANGE], h[F.H_ORIG_KEY]) == ("erp.events", "po.created")


def test_an_unrouted_message_goes_back_to_the_exchange_it_was_published_to():
    m = D.DeadLetter(
        queue="unrouted",
        body=b"not json",
        properties={"timestamp": NOW},
        headers={"x-delivery-count": 2},
        exchange="erp.events",
        routing_key="order.teleported",
    )
    assert (m.exception_type, m.service, m.event_type) == ("Unrouted", "unrouted", "unknown")
    assert (m.original_exchange, m.original_routing_key) == ("erp.events", "order.teleported")
    assert m.event is None and m.last_failure == NOW and m.returns == 2


def test_putting_a_message_back_keeps_where_it_was_first_published():
    unrouted = D.DeadLetter("unrouted", b"{}", {}, {"x-delivery-count": 4}, "erp.events", "po.x")
    h = D.same_headers(unrouted)
    assert h == {F.H_ORIG_EXCHANGE: "erp.events", F.H_ORIG_KEY: "po.x"}
    m = failed(**{"x-delivery-count": 2})
    assert D.same_headers(m) == {k: v for k, v in m.headers.items() if k != "x-delivery-count"}
    direct = D.DeadLetter("unrouted", b"{}", {}, {"a": 1}, "", "unrouted")
    assert D.same_headers(direct) == {"a": 1}


def test_replay_headers_keep_history_count_the_replay_and_give_the_retries_back():
    m = failed(**{F.H_ATTEMPTS: 5, D.H_PREV_ATTEMPTS: 2, F.H_REPLAY_COUNT: 1, "x-death": []})
    h = D.replay_headers(m, "amy", NOW)
    assert h[F.H_ATTEMPTS] == 0 and h[D.H_PREV_ATTEMPTS] == 7
    assert h[F.H_REPLAY_COUNT] == 2 and h[F.H_REPLAYED_BY] == "amy"
    assert h[F.H_REPLAYED_AT] == "2026-11-27T03:00:00.000Z"
    assert h[F.H_EXC_TYPE] == "Rejected" and h[F.H_FIRST] == m.headers[F.H_FIRST]
    assert "x-death" not in h and m.headers[F.H_ATTEMPTS] == 5


def test_a_message_replayed_as_often_as_the_threshold_is_flagged():
    assert not failed(**{F.H_REPLAY_COUNT: 2}).flagged(3)
    assert failed(**{F.H_REPLAY_COUNT: 3}).flagged(3)
    assert failed(**{F.H_REPLAY_COUNT: 3}).summary(3)["flagged"] is True


def test_selectors_match_by_id_type_group_and_failure_time():
    m = failed(**{F.H_LAST: "2026-11-27T02:30:00.000Z"})
    assert D.Selector().is_all and D.Selector().matches(m)
    assert D.Selector(ids=("ev-1",)).matches(m) and not D.Selector(ids=("x",)).matches(m)
    assert D.Selector(types=("inventory.*",)).matches(m)
    assert not D.Selector(types=("order.*",)).matches(m)
    assert D.Selector(groups=(m.group,)).matches(m)
    assert D.Selector(groups=(m.group_key,)).matches(m)
    since = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)
    assert D.Selector(since=since).matches(m) and not D.Selector(until=since).matches(m)
    assert not D.Selector(since=since + timedelta(seconds=1)).matches(m)
    assert D.Selector(ids=("a",), limit=3).describe() == {"ids": ["a"], "limit": 3}
    assert D.Selector().describe() == {"all": True}


def test_times_are_iso_or_ages():
    assert D.parse_time("2h", now=NOW) == NOW - timedelta(hours=2)
    assert D.parse_time("90s", now=NOW) == NOW - timedelta(seconds=90)
    assert D.parse_time("2026-11-27T03:00Z") == NOW
    assert D.parse_time("2026-11-27T03:00:00") == NOW
    assert D.parse_time("2026-11-27") == datetime(2026, 11, 27, tzinfo=UTC)
    with pytest.raises(ValueError):
        D.parse_time("yesterday-ish")


def test_header_values_survive_json_exactly():
    value = {
        "s": "héllo",
        "i": 2**40,
        "f": 1.5,
        "b": False,
        "n": None,
        "raw": bytearray(b"\xff\x00"),
        "t": NOW,
        "d": Decimal("12.50"),
        "l": [1, {"k": b"\x01"}],
    }
    back = D.from_jsonable(json.loads(json.dumps(D.to_jsonable(value))))
    assert back == value and isinstance(back["raw"], bytearray)
    assert D.amqp_safe({"a": [b"x"]}) == {"a": [bytearray(b"x")]}


def test_the_archive_record_round_trips_in_both_its_forms():
    m = failed(b"\x00binary\xff", **{"when": NOW, "raw": bytearray(b"\x01")})
    rec = m.record(archive_id="a-1", seq=0)
    line = json.loads(json.dumps(rec, default=str))
    for form in (line, _archive_doc(line)):
        back = D.DeadLetter.from_record(form)
        assert (back.body, back.properties, back.headers) == (m.body, m.properties, m.headers)
        assert back.queue == "availability.dlq"
    assert rec["event"] is None and rec["exception_type"] == "Rejected"


def test_summaries_group_by_exception_type_and_service_with_oldest_and_newest():
    a = failed(**{F.H_LAST: "2026-11-27T01:00:00Z", F.H_FIRST: "2026-11-27T00:00:00Z"})
    b = failed(**{F.H_LAST: "2026-11-27T02:00:00Z", F.H_REPLAY_COUNT: 3})
    c = failed(**{F.H_EXC_TYPE: "SchemaInvalid"})
    s = D.summarize("availability", "availability.dlq", 3, [a, b, c], flag=3)
    assert [(g.exception_type, g.count) for g in s.groups] == [
        ("Rejected", 2),
        ("SchemaInvalid", 1),
    ]
    assert s.groups[0].oldest == datetime(2026, 11, 27, 1, tzinfo=UTC)
    assert s.oldest == datetime(2026, 11, 27, tzinfo=UTC) and s.flagged == 1
    assert s.groups[0].flagged == 1
    assert json.loads(json.dumps(s.as_dict()))["groups"][0]["count"] == 2


def test_queue_names_follow_the_topology():
    assert D.queue_of("availability") == "availability.dlq"
    assert D.queue_of("unrouted") == "unrouted"
    assert D.queue_of("receipt.dlq") == "receipt.dlq"


async def test_the_rate_limiter_spaces_starts_evenly_and_does_not_burst_after_a_stall():
    rl = D.RateLimiter(50)
    t0 = time.monotonic()
    for _ in range(6):
        await rl.wait()
    assert time.monotonic() - t0 >= 5 / 50 * 0.9
    await asyncio.sleep(0.1)  # a stall: the next two still come one interval apart
    await rl.wait()
    t1 = time.monotonic()
    await rl.wait()
    assert time.monotonic() - t1 >= 1 / 50 * 0.9
    unlimited = D.RateLimiter(None)
    t2 = time.monotonic()
    for _ in range(1000):
        await unlimited.wait()
    assert time.monotonic() - t2 < 0.5


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distsync")
    C.register(p.add_subparsers(dest="command"))
    return p


def test_the_command_line_follows_the_contract():
    p = parser()
    a = p.parse_args(
        ["dlq", "replay", "availability", "--type", "inventory.*", "--since", "2h", "--rate", "50"]
    )
    sel = C.selector_of(a)
    assert sel.types == ("inventory.*",) and sel.since is not None and a.rate == 50
    assert not a.yes and not a.dry_run and a.fn is C.cmd_replay
    a = p.parse_args(["dlq", "show", "unrouted", "--limit", "5", "--json"])
    assert (a.limit, a.json, a.fn) == (5, True, C.cmd_show)
    a = p.parse_args(["dlq", "purge", "receipt", "--yes", "--file", "x.jsonl"])
    assert a.purge and a.yes and a.file == "x.jsonl"
    a = p.parse_args(["dlq", "restore", "receipt.dlq-20261127T030000Z-abc123"])
    assert a.fn is C.cmd_restore
    for bad in (
        ["dlq", "replay"],
        ["dlq", "show", "x", "--limit", "0"],
        ["dlq", "replay", "x", "--since", "soon"],
    ):
        with pytest.raises(SystemExit) as e:
            p.parse_args(bad)
        assert e.value.code == 2


def test_confirmation_is_refused_without_a_terminal_unless_yes(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert not confirm(argparse.Namespace(yes=False), "Replay ALL?")
    assert confirm(argparse.Namespace(yes=True), "Replay ALL?")


def test_tables_and_outcomes_read_well():
    t = table(["NAME", "N"], [["a", 1], ["bbb", 22]])
    assert t.splitlines() == ["NAME   N", "a      1", "bbb   22"]
    o = D.Outcome("replay", "availability.dlq", {"all": True}, "amy", dry_run=True, matched=2)
    o.plan["wms.events -> inventory.adjusted"] = 2
    text = render_outcome(o)
    assert "would replay 2" in text and "wms.events -> inventory.adjusted" in text
    o = D.Outcome("replay", "availability.dlq", {}, "amy", matched=5, done=3, cancelled=True)
    o.error("ev-9: unroutable")
    text = render_outcome(o)
    assert "CANCELLED" in text and "replayed 3 of 5" in text and "ev-9: unroutable" in text


def test_a_time_off_the_calendar_or_an_absurd_age_is_a_usage_error_not_a_crash():
    for value in ("9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "99999999999d"):
        with pytest.raises(ValueError, match="not a time"):
            D.parse_time(value)
