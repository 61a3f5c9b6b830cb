"""With authentication on, a caller publishes only as the systems its scopes name."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import aio_pika
import httpx
import pytest

from distsync_sim.testing import free_port
from ingress.main import SERVICE
from ingress.settings import IngressSettings
from shared.auth import AuthSettings
from shared.auth.apikeys import digest
from shared.runtime import ServiceRuntime
from shared.topology import all_services, declare, full_topology

pytestmark = pytest.mark.integration

WMS_KEY = "wms-" + uuid.uuid4().hex + uuid.uuid4().hex
READER_KEY = "reader-" + uuid.uuid4().hex + uuid.uuid4().hex


@pytest.fixture
async def ingress(amqp_url, mongodb_url, db_name, tmp_path):
    conn = await aio_pika.connect(amqp_url)
    await declare(await conn.channel(), full_topology(all_services(), retry_delays_s=[1]))
    await conn.close()
    keys = tmp_path / "keys.json"
    keys.write_text(
        json.dumps(
            [
                {
                    "client": "wms-bridge",
                    "sha256": digest(WMS_KEY),
                    "scopes": ["ingress:publish", "ingress:source:wms"],
                },
                {"client": "viewer", "sha256": digest(READER_KEY), "scopes": ["ingress:read"]},
            ]
        )
    )
    port = free_port()
    settings = IngressSettings(
        amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_db=db_name, http_port=port
    )
    rt = ServiceRuntime(
        SERVICE, settings, auth=AuthSettings(mode="api_keys", api_keys_file=str(keys))
    )
    await rt.start()
    yield f"http://127.0.0.1:{port}"
    await rt.stop()


def count(source: str) -> dict:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": "inventory.counted",
        "time": datetime.now(UTC).isoformat(),
        "data": {"location": "DC", "sku": "S", "counted_qty": 1, "user": "u"},
    }


async def test_a_caller_publishes_as_its_own_system_only(ingress):
    ce = {"content-type": "application/cloudevents+json"}
    async with httpx.AsyncClient(base_url=ingress) as c:
        r = await c.post("/v1/events", content=json.dumps(count("wms/dc")), headers=ce)
        assert r.status_code == 401
        r = await c.post(
            "/v1/events",
            content=json.dumps(count("wms/dc")),
            headers={**ce, "X-API-Key": READER_KEY},
        )
        assert r.status_code == 403 and "ingress:publish" in r.json()["detail"]
        ev = count("wms/dc")
        r = await c.post("/v1/events", content=json.dumps(ev), headers={**ce, "X-API-Key": WMS_KEY})
        assert r.status_code == 202, r.text
        order = {
            **count("erp/main"),
            "type": "order.cancelled",
            "data": {"order_id": "O-1"},
        }
        r = await c.post(
            "/v1/events", content=json.dumps(order), headers={**ce, "X-API-Key": WMS_KEY}
        )
        assert r.status_code == 403
        assert "ingress:source:erp" in r.json()["events"][0]["reason"]
        # a file is held to the same rule: counts are the WMS's, POs the ERP's
        po = b"po_id,supplier_id,location,expected_date,line_id,sku,qty\nP,S,DC,2026-12-01,1,A,1\n"
        r = await c.post(
            "/v1/files/purchase-orders",
            content=po,
            headers={"content-type": "text/csv", "X-API-Key": WMS_KEY},
        )
        assert r.status_code == 422 and "ingress:source:erp" in r.json()["refused"][0]["reason"]
        r = await c.get(f"/v1/events/{ev['id']}", headers={"X-API-Key": READER_KEY})
        assert r.status_code == 200 and r.json()["state"] == "published"
