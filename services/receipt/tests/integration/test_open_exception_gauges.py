"""The open-exception gauges against the real database, fed by the real service through the
broker: per kind, how many exceptions purchase orders still open carry and how old the oldest
is; blind receipts, cancelled and fully received POs do not count."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from receipt.main import SERVICE, refresh_open_exceptions
from receipt.messages import EXCEPTION_KINDS
from receipt.settings import ReceiptSettings
from runtime_support import eventually, publish
from shared.envelope import build
from shared.inbox import count as inbox_count
from shared.runtime import ServiceRuntime
from shared.service import TaskContext

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
H = 3600.0


async def _no_tx(fn: Any) -> None:
    raise AssertionError("the gauge refresh writes nothing")


class Systems:
    """The ERP and the WMS: publish, then wait until the service has applied everything."""

    def __init__(self, url: str, rt: ServiceRuntime) -> None:
        self.url, self.rt, self.sent = url, rt, 0
        self.tag = uuid.uuid4().hex[:6]

    def po(self, name: str) -> str:
        return f"PO-{self.tag}-{name}"

    async def send(self, exchange: str, type_: str, data: dict[str, Any], ago: float) -> None:
        ev = build(
            type_, data, source=exchange.split(".")[0] + "/t", time=NOW - timedelta(hours=ago)
        )
        await publish(self.url, exchange, type_, ev.to_json_bytes(), message_id=ev.id)
        self.sent += 1

    async def release(self, po: str, lines: dict[str, tuple[str, float]]) -> None:
        data = {
            "po_id": self.po(po),
            "supplier_id": "SUP-1",
            "location": "DC-EAST",
            "expected_date": "2026-11-27T00:00:00Z",
            "lines": [{"line_id": i, "sku": s, "qty": q} for i, (s, q) in lines.items()],
        }
        await self.send("erp.events", "purchase_order.released", data, ago=48)

    async def receive(self, po: str | None, lines: list[dict[str, Any]], ago: float) -> None:
        data: dict[str, Any] = {"receipt_id": f"R-{uuid.uuid4().hex[:8]}", "location": "DC-EAST"}
        if po is not None:
            data["po_id"] = self.po(po)
        await self.send("wms.events", "receipt.recorded", {**data, "lines": lines}, ago)

    async def gauges(self) -> dict[str, tuple[float, float]]:
        """Once everything sent is applied: kind -> (open exceptions, oldest seconds)."""

        async def applied() -> bool:
            return await inbox_count(self.rt.db) >= self.sent

        await eventually(applied)
        await refresh_open_exceptions(TaskContext("receipt", self.rt.db, self.rt.settings, _no_tx))
        out = {}
        for kind in EXCEPTION_KINDS:
            n = REGISTRY.get_sample_value("distsync_receipt_open_exceptions", {"kind": kind})
            age = REGISTRY.get_sample_value(
                "distsync_receipt_oldest_open_exception_seconds", {"kind": kind}
            )
            assert n is not None and age is not None, kind
            if n or age:
                out[kind] = (n, age)
        return out


def about(got: tuple[float, float], count: int, hours: float) -> bool:
    """`count` exceptions, the oldest `hours` old plus at most the time since NOW was taken
    (at import: in a full run that is minutes before this test)."""
    n, age = got
    since_now = (datetime.now(UTC) - NOW).total_seconds()
    return n == count and hours * H <= age <= hours * H + since_now + 5


async def test_open_exceptions_count_only_purchase_orders_still_open(
    amqp_url, mongodb_url, db_name
):
    settings = ReceiptSettings(
        amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_db=db_name, log_json=False
    )
    rt = ServiceRuntime(SERVICE, settings)
    await rt.start(serve_http=False)
    try:
        s = Systems(amqp_url, rt)
        assert await s.gauges() == {}

        await s.release("A", {"1": ("SKU-A", 10), "2": ("SKU-B", 5)})
        await s.release("B", {"1": ("SKU-C", 10)})
        await s.release("C", {"1": ("SKU-D", 8)})
        # A: 2 over on line 1 five hours ago, line 2 still expected -> partially_received
        await s.receive("A", [{"po_line_id": "1", "sku": "SKU-A", "qty_received": 12}], ago=5)
        # B: an unexpected SKU and a damaged unit two hours ago; nothing on its line yet for
        # the first (the PO stays open), then partially received
        await s.receive("B", [{"sku": "SKU-X", "qty_received": 3}], ago=3)
        await s.receive("B", [{"sku": "SKU-C", "qty_received": 4, "qty_damaged": 1}], ago=2)
        # C: damaged nine hours ago, then cancelled: closed, so neither it nor its short count
        await s.receive("C", [{"sku": "SKU-D", "qty_received": 2, "qty_damaged": 1}], ago=9)
        await s.send("erp.events", "purchase_order.cancelled", {"po_id": s.po("C")}, ago=8)
        # a blind receipt twelve hours ago: an exception with no PO
        await s.receive(None, [{"sku": "SKU-Z", "qty_received": 1}], ago=12)

        got = await s.gauges()
        assert set(got) == {"over_receipt", "unexpected_item", "damaged"}, got
        assert about(got["over_receipt"], 1, 5)
        assert about(got["unexpected_item"], 1, 3)
        assert about(got["damaged"], 1, 2)

        # A's last line arrives: A is received (closed) and its over-receipt no longer open
        await s.receive("A", [{"po_line_id": "2", "sku": "SKU-B", "qty_received": 5}], ago=1)
        got = await s.gauges()
        assert set(got) == {"unexpected_item", "damaged"}, got
    finally:
        await rt.stop()
