"""The DLQ console without a broker: its pages are data-free shells with a strict policy, its
data needs the API's credentials, and a snapshot groups, patterns and charts what it read."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from distsync_ops import dlq as D
from distsync_ops import dlq_api as A
from distsync_ops.console_web.summary import HOURS, SAMPLE, build, pattern
from shared import failures as F
from shared.auth import AuthSettings
from shared.auth.apikeys import digest
from shared.envelope import build as build_event
from shared.errors import Rejected

KEY = "reader-" + "r" * 40


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("DISTSYNC_AUTH_", "DISTSYNC_DLQ_API_")):
            monkeypatch.delenv(name)


def keyed_app(tmp_path: Path) -> httpx.AsyncClient:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([{"client": "r", "sha256": digest(KEY), "scopes": ["dlq:read"]}]))
    app = A.create_dlq_app(D.DlqSettings(), AuthSettings(mode="api_keys", api_keys_file=str(path)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def test_pages_are_shells_with_a_strict_policy_and_no_credentials(tmp_path: Path) -> None:
    async with keyed_app(tmp_path) as c:
        r = await c.get("/console/services/availability/groups/g1234567")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "http" not in csp  # nothing from elsewhere
        assert r.headers["x-content-type-options"] == "nosniff"
        assert 'data-page="group"' in r.text and 'data-group="g1234567"' in r.text
        assert "<script>" not in r.text  # no inline script: the policy would refuse it
        r = await c.get("/console/static/pages.js")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
        for bad in ("/console/static/..%2Fpages.py", "/console/static/pages.py"):
            assert (await c.get(bad)).status_code == 404
        assert (await c.get("/console", follow_redirects=False)).status_code == 308


async def test_a_parameter_cannot_inject_markup(tmp_path: Path) -> None:
    async with keyed_app(tmp_path) as c:
        r = await c.get('/console/trace/x"><img src=y onerror=alert(1)>')
        assert "<img" not in r.text and "&lt;img" in r.text and "&quot;&gt;" in r.text


async def test_the_console_data_needs_the_api_credentials(tmp_path: Path) -> None:
    async with keyed_app(tmp_path) as c:
        r = await c.get("/v1/console/me")
        assert r.status_code == 401
        r = await c.get("/v1/console/me", headers={"X-API-Key": KEY})
        assert r.status_code == 200 and r.json()["scopes"] == ["dlq:read"]
        assert (await c.get("/v1/console/overview")).status_code == 401
        r = await c.get("/v1/console/me", params={"api_key": KEY})  # never from a URL
        assert r.status_code == 401


async def test_a_page_from_another_host_name_is_refused(tmp_path: Path) -> None:
    async with keyed_app(tmp_path) as c:
        r = await c.get("/console/", headers={"host": "evil.example"})
        assert r.status_code == 400


def dead_letter(i: int, reason: str, event_type: str, at: datetime) -> D.DeadLetter:
    ev = build_event(event_type, {"sku": f"S{i}"}, source="wms/t")
    h = F.failure_headers(
        previous={},
        exc=Rejected(reason),
        kind="rejected",
        service="availability",
        queue="availability.main",
        exchange="wms.events",
        routing_key=event_type,
        event_type=event_type,
    )
    h[F.H_FIRST] = h[F.H_LAST] = at.isoformat()
    return D.DeadLetter("availability.dlq", ev.to_json_bytes(), {"message_id": ev.id}, h)


def test_patterns_replace_what_varies() -> None:
    a = pattern("no conversion from CS to base unit for SKU-1a2b; id 8f14e45f-ceea-467f-a0e6-1234")
    b = pattern("no conversion from CS to base unit for SKU-77; id 0c0c0c0c-aaaa-bbbb-cccc-5678")
    assert a == b == "no conversion from CS to base unit for #; id #"
    assert pattern(None) == ""


def test_a_snapshot_groups_counts_charts_and_samples() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    msgs = [
        dead_letter(i, f"no unit for SKU-{i}", "inventory.adjusted", now - timedelta(minutes=30))
        for i in range(SAMPLE + 10)
    ]
    msgs += [
        dead_letter(
            i, "unknown location DC-9", "inventory.counted", now - timedelta(hours=5, minutes=1)
        )
        for i in range(3)
    ]
    msgs.append(dead_letter(99, "too old", "inventory.counted", now - timedelta(days=3)))
    snap = build("availability", "availability.dlq", len(msgs), msgs, 3, now)
    assert snap.scanned == len(msgs)
    [big, small] = snap.groups
    assert big["count"] == SAMPLE + 10 and big["event_type"] == "inventory.adjusted"
    assert big["patterns"] == [{"pattern": "no unit for #", "count": SAMPLE + 10}]
    assert len(big["ids"]) == SAMPLE  # a sample, not all
    assert small["count"] == 4 and {p["pattern"] for p in small["patterns"]} == {
        "unknown location #",
        "too old",
    }
    assert sum(snap.hourly) == SAMPLE + 13  # the one from three days ago is outside the day
    assert snap.hourly[HOURS - 1] == SAMPLE + 10 and snap.hourly[HOURS - 6] == 3
    view = snap.view()
    assert "ids" not in view["groups"][0] and view["group_count"] == 2


async def test_the_app_closes_the_consoles_walks_and_connections_when_it_shuts_down() -> None:
    from fastapi import FastAPI

    from distsync_ops.console_web.api import console_api
    from distsync_ops.console_web.summary import SummaryCache

    closed: list[str] = []

    class Cache(SummaryCache):
        async def close(self) -> None:
            closed.append("cache")
            await super().close()

    app = FastAPI()
    app.include_router(console_api(D.DlqSettings(), Cache(D.DlqSettings())))
    async with app.router.lifespan_context(app):  # what uvicorn runs around serving
        assert closed == []
    assert closed and set(closed) == {"cache"}  # (FastAPI may run an included handler twice)
