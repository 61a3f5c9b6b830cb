"""The scheduled run's figures: `--record` stores the summary in the operations database
(`distsync reconcile status` reads it back and judges its age) and pushes the metrics to a
Pushgateway over HTTP (a local HTTP server stands in for the Pushgateway and keeps what it
receives). Real MongoDB wire protocol; no service needed, the positions are written as
availability stores them."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared.runtime import mongo_client

pytestmark = pytest.mark.integration


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    got: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            got.append(("PUT", self.path, self.rfile.read(n)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", got
    srv.shutdown()


def cli(mongodb_url: str, dbs: dict[str, str], *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "MONGODB_URL": mongodb_url,
        "DISTSYNC_RECONCILE_AVAILABILITY_DB": dbs["availability"],
        "DISTSYNC_RECONCILE_DB": dbs["ops"],
        "DISTSYNC_STACK_FILE": "/nonexistent/stack.json",
    }
    p = subprocess.run(
        [sys.executable, "-m", "shared.cli", "reconcile", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return p.returncode, p.stdout, p.stderr


async def test_a_recorded_run_is_stored_pushed_and_reported_by_status(
    mongodb_url: str, tmp_path: Path, gateway: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    tag = uuid.uuid4().hex[:8]
    dbs = {"availability": f"recon_av_{tag}", "ops": f"recon_ops_{tag}"}
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    client = mongo_client(mongodb_url)
    try:
        await client[dbs["availability"]]["positions"].insert_one(
            {
                "_id": "S1|DC1",
                "sku": "S1",
                "location": "DC1",
                "on_hand": 10.0,
                "on_hand_base": 10.0,
                "movements": [],
                "counted": None,
                "folded_through": None,
                "quarantined": 0.0,
                "as_of": at,
            }
        )
        snap = tmp_path / "s.jsonl"
        snap.write_text(json.dumps({"sku": "S1", "location": "DC1", "qty": 12}) + "\n")
        url, got = gateway
        rc, out, err = await asyncio.to_thread(
            cli, mongodb_url, dbs, "stock", str(snap), "--record", "--pushgateway", url, "--json"
        )
        assert rc == 1, err
        assert json.loads(out)["locations"][0]["net_variance"] == 2.0
        assert len(got) == 1 and got[0][1] == "/metrics/job/distsync_reconcile/kind/stock"
        body = got[0][2].decode()
        assert 'distsync_reconcile_net_variance_units{location="DC1"} 2.0' in body
        assert "distsync_reconcile_last_run_timestamp_seconds" in body
        runs = await client[dbs["ops"]]["reconcile_runs"].find({}).to_list()
        assert [(r["kind"], r["ok"], r["keys_with_variance"]) for r in runs] == [
            ("stock", False, 1)
        ]
        rc, out, err = await asyncio.to_thread(cli, mongodb_url, dbs, "status", "--json")
        assert rc == 0, err
        doc = json.loads(out)
        assert doc["ok"] and doc["runs"]["stock"]["age_hours"] < 1
        assert doc["runs"]["stock"]["last_ok_at"] is None
        rc, _, _ = await asyncio.to_thread(cli, mongodb_url, dbs, "status", "--max-age", "0")
        assert rc == 1  # older than zero hours: stale
    finally:
        for name in dbs.values():
            await client.drop_database(name)
        await client.close()


async def test_a_snapshot_is_read_from_a_url_and_a_missing_one_is_an_input_error(
    mongodb_url: str, tmp_path: Path
) -> None:
    import functools
    from http.server import SimpleHTTPRequestHandler

    (tmp_path / "snap.csv").write_text("sku,location,qty\nS9,DC9,3\nS9,,1\n", encoding="utf-8")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    dbs = {"availability": f"recon_av_{uuid.uuid4().hex[:8]}", "ops": "unused"}
    try:
        rc, out, err = await asyncio.to_thread(
            cli, mongodb_url, dbs, "stock", f"{base}/snap.csv", "--json"
        )
        assert rc == 1, err  # S9 is unknown to distsync: +3
        doc = json.loads(out)
        assert doc["largest"][0]["variance"] == 3.0
        assert doc["bad"] == [{"line": 3, "reason": "location is missing"}]
        rc, _, err = await asyncio.to_thread(cli, mongodb_url, dbs, "stock", f"{base}/missing.csv")
        assert rc == 2 and "cannot download" in err
        rc, _, err = await asyncio.to_thread(cli, mongodb_url, dbs, "stock", "/nonexistent.csv")
        assert rc == 2 and "cannot read" in err
    finally:
        srv.shutdown()
