"""The watched folder: files are read once, moved to done/ or failed/, with their report."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import aio_pika
import pytest

from distsync_sim.testing import free_port
from ingress.main import SERVICE
from ingress.settings import IngressSettings
from shared.auth import AuthSettings
from shared.runtime import ServiceRuntime
from shared.topology import all_services, declare, full_topology
from tests.e2e.harness import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def drop(amqp_url, mongodb_url, db_name, tmp_path):
    conn = await aio_pika.connect(amqp_url)
    await declare(await conn.channel(), full_topology(all_services(), retry_delays_s=[1]))
    await conn.close()
    settings = IngressSettings(
        amqp_url=amqp_url,
        mongodb_url=mongodb_url,
        mongodb_db=db_name,
        http_port=free_port(),
        ingress_drop_dir=str(tmp_path),
    )
    rt = ServiceRuntime(SERVICE, settings, auth=AuthSettings(mode="open"))
    await rt.start()
    yield tmp_path
    await rt.stop()


async def moved(p: Path) -> dict:
    async def there() -> bool:
        return p.exists() and Path(str(p) + ".report.json").exists()

    await eventually(there)
    return json.loads(Path(str(p) + ".report.json").read_text())


async def test_a_file_with_a_refused_row_goes_to_failed_with_its_report(drop):
    d = drop / "adjustments"
    d.mkdir()
    sku = f"S-{uuid.uuid4().hex[:8]}"
    (d / ".hidden.csv").write_text("not,read\n")
    (d / "adj.csv.part").write_text("not,read\n")
    (d / "adj.csv").write_text(
        f"location,sku,qty_delta,reason_code\nDC,{sku},2,X\nDC,{sku},-1e12,X\n"
    )
    report = await moved(d / "failed" / "adj.csv")
    assert report["outcome"] == "partial" and report["events_accepted"] == 1
    assert [r["line"] for r in report["refused"]] == [3]
    assert "qty_delta" in report["refused"][0]["reason"]
    assert (d / ".hidden.csv").exists() and (d / "adj.csv.part").exists()
    assert not list((d / "processing").iterdir())


async def test_an_unreadable_file_goes_to_failed_and_publishes_nothing(drop):
    d = drop / "counts"
    d.mkdir()
    (d / "c.csv").write_text("sku,counted_qty\nA,1\n")
    report = await moved(d / "failed" / "c.csv")
    assert report["outcome"] == "failed" and "lacks location" in report["error"]
    assert report["events_accepted"] == 0
