"""The exception gauges against the real database, fed by the real service through the broker:
the count of orders in exception and how long the oldest one has been in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from order_status.main import SERVICE, refresh_exception_gauge
from order_status.settings import OrderStatusSettings
from runtime_support import eventually, publish
from shared.envelope import build
from shared.inbox import count as inbox_count
from shared.runtime import ServiceRuntime
from shared.service import TaskContext

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


async def _no_tx(fn: Any) -> None:
    raise AssertionError("the gauge refresh writes nothing")


class Erp:
    """Publishes ERP order events and waits until the service has applied all of them."""

    def __init__(self, url: str, rt: ServiceRuntime) -> None:
        self.url, self.rt, self.sent = url, rt, 0

    async def send(self, type_: str, data: dict[str, Any], ago: timedelta) -> None:
        ev = build(type_, data, source="erp/sap-1", time=NOW - ago, correlationid=data["order_id"])
        await publish(self.url, "erp.events", type_, ev.to_json_bytes(), message_id=ev.id)
        self.sent += 1

    async def status(self, order_id: str, native: str, ago: timedelta) -> None:
        await self.send(
            "order.status_reported", {"order_id": order_id, "native_status": native}, ago
        )

    async def gauges(self) -> tuple[float | None, float | None]:
        """Once everything sent is applied: (orders in exception, oldest exception seconds)."""

        async def applied() -> bool:
            return await inbox_count(self.rt.db) >= self.sent

        await eventually(applied)
        ctx = TaskContext("order-status", self.rt.db, self.rt.settings, _no_tx)
        await refresh_exception_gauge(ctx)
        return (
            REGISTRY.get_sample_value("distsync_order_status_orders_in_exception"),
            REGISTRY.get_sample_value("distsync_order_status_oldest_exception_seconds"),
        )


def about(seconds: float | None, expected: float) -> bool:
    """`expected` plus at most the time since NOW was taken (at import: in a full run that is
    minutes before this test)."""
    since_now = (datetime.now(UTC) - NOW).total_seconds()
    return seconds is not None and expected <= seconds <= expected + since_now + 5


async def test_the_oldest_exception_is_the_order_longest_in_exception_by_event_time(
    amqp_url, mongodb_url, db_name
):
    settings = OrderStatusSettings(
        amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_db=db_name, log_json=False
    )
    rt = ServiceRuntime(SERVICE, settings)
    await rt.start(serve_http=False)
    try:
        erp = Erp(amqp_url, rt)
        old, recent, fine = (f"ORD-{uuid.uuid4().hex[:8]}" for _ in range(3))
        for order_id in (old, recent, fine):
            line = {"line_id": "1", "sku": "SKU-1", "qty": 2}
            data = {"order_id": order_id, "channel": "web", "customer_id": "C1", "lines": [line]}
            await erp.send("order.created", data, timedelta(days=3))
        await erp.status(old, "credit_hold", timedelta(hours=30))
        await erp.status(recent, "on_hold", timedelta(hours=2))
        await erp.status(fine, "credit_approved", timedelta(hours=40))
        count, oldest = await erp.gauges()
        assert count == 2 and about(oldest, 30 * 3600)

        # a second hold on an order already in exception does not restart its clock
        await erp.status(old, "blocked", timedelta(hours=1))
        count, oldest = await erp.gauges()
        assert count == 2 and about(oldest, 30 * 3600)

        await erp.status(old, "credit_released", timedelta(minutes=30))
        count, oldest = await erp.gauges()
        assert count == 1 and about(oldest, 2 * 3600)

        await erp.status(recent, "approved", timedelta(minutes=10))
        assert await erp.gauges() == (0, 0)
    finally:
        await rt.stop()
