"""`distsync dlq replay` and the deduplication horizon: a message whose event is older than the
services remember applied ids is not replayed unless the operator says so."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from distsync_ops import dlq as D
from distsync_ops import dlq_cli as C
from distsync_ops.dlq.replaying import beyond_horizon, event_time
from distsync_ops.dlq_render import render_outcome
from shared import failures as F
from shared.envelope import build
from shared.retention import DedupHorizon, dedup_horizon
from tools.ops.tests.dlq_support import failed_headers

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
HORIZON = DedupHorizon(timedelta(days=13))


def dead(at: datetime | None, body: bytes | None = None, **headers: object) -> D.DeadLetter:
    ev = build("inventory.adjusted", {"sku": "S1"}, source="wms/dc-east", id="ev-1", time=at)
    return D.DeadLetter(
        queue="availability.dlq",
        body=ev.to_json_bytes() if body is None else body,
        properties={"message_id": "ev-1"},
        headers=failed_headers("availability", event_type="inventory.adjusted", **headers),
    )


def test_a_message_is_judged_by_its_event_time_as_the_service_will_judge_it() -> None:
    assert beyond_horizon(dead(NOW - timedelta(days=14)), HORIZON, NOW)
    assert not beyond_horizon(dead(NOW - timedelta(days=12)), HORIZON, NOW)
    assert event_time(dead(NOW - timedelta(days=14))) == NOW - timedelta(days=14)
    assert not beyond_horizon(dead(NOW - timedelta(days=400)), None, NOW)  # ids kept forever

    # a body without a readable time is refused by the service whatever its age: replayed as
    # before, however long ago it died
    long_ago = F._iso(NOW - timedelta(days=30))
    unreadable = dead(None, b"{not json", **{F.H_FIRST: long_ago, F.H_LAST: long_ago})
    assert event_time(unreadable) is None and not beyond_horizon(unreadable, HORIZON, NOW)


def test_the_tools_take_the_horizon_from_the_same_settings_as_the_services() -> None:
    assert dedup_horizon(D.DlqSettings()) == HORIZON
    assert dedup_horizon(D.DlqSettings(inbox_ttl=False)) is None


def test_replay_has_a_flag_to_include_them_and_says_what_it_skipped() -> None:
    p = argparse.ArgumentParser(prog="distsync")
    C.register(p.add_subparsers(dest="command"))
    assert p.parse_args(["dlq", "replay", "availability", "--beyond-horizon"]).beyond_horizon
    assert not p.parse_args(["dlq", "replay", "availability"]).beyond_horizon
    o = D.Outcome("replay", "availability.dlq", {}, "oncall", matched=1, done=1)
    o.skipped_beyond_horizon = 3
    text = render_outcome(o)
    assert "skipped 3 messages older than the deduplication horizon" in text
    assert "--beyond-horizon to include" in text
