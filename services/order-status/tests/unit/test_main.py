"""How order-status declares itself to the runtime: routes, bindings, publications, tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY

from order_status.main import SERVICE, refresh_exception_gauge
from order_status.settings import OrderStatusSettings
from shared.service import TaskContext

CONSUMED = {
    "order.created": {"erp.events"},
    "order.allocated": {"erp.events"},
    "order.deallocated": {"erp.events"},
    "order.backordered": {"erp.events"},
    "order.cancelled": {"erp.events"},
    "order.status_reported": {"erp.events", "wms.events", "carrier.events", "commerce.events"},
    "pick.completed": {"wms.events"},
    "pack.completed": {"wms.events"},
    "shipment.shipped": {"wms.events", "carrier.events"},
    "shipment.tracking_updated": {"carrier-tracking.events"},
    "return.status_changed": {"returns.events"},
}


def test_service_binds_every_consumed_type_on_the_exchanges_its_publishers_use() -> None:
    bound: dict[str, set[str]] = {}
    for exchange, key in SERVICE.bindings():
        bound.setdefault(key, set()).add(exchange)
    assert bound == CONSUMED
    assert SERVICE.queue == "order-status.main"


def test_service_publishes_order_status_changed_on_its_own_exchange() -> None:
    assert [p.type for p in SERVICE.publishes] == ["order.status_changed"]
    assert SERVICE.exchange == "order-status.events"
    assert SERVICE.settings_cls is OrderStatusSettings


def test_mapping_file_setting_is_read_from_the_environment(monkeypatch: Any) -> None:
    monkeypatch.setenv("DISTSYNC_ORDER_STATUS_MAPPING_FILE", "/etc/distsync/mapping.json")
    assert OrderStatusSettings().order_status_mapping_file == "/etc/distsync/mapping.json"


class OrdersInException:
    """The orders collection as the gauge refresh queries it: status_at of orders in exception."""

    def __init__(self, *since: datetime) -> None:
        self.since = since

    async def count_documents(self, flt: dict[str, Any]) -> int:
        assert flt == {"status": "exception"}
        return len(self.since)

    async def find_one(
        self, flt: dict[str, Any], projection: dict[str, Any], sort: list[Any]
    ) -> dict[str, Any] | None:
        assert flt == {"status": "exception"} and sort == [("status_at", 1)]
        return {"_id": "ORD-OLDEST", "status_at": min(self.since)} if self.since else None


async def _in_tx(fn: Any) -> None:
    raise AssertionError("the gauge refresh writes nothing")


async def _refresh(orders: OrdersInException) -> tuple[float | None, float | None]:
    ctx = TaskContext(
        service="order-status",
        db={"orders": orders},
        settings=OrderStatusSettings(),
        run_in_transaction=_in_tx,
    )
    await refresh_exception_gauge(ctx)
    return (
        REGISTRY.get_sample_value("distsync_order_status_orders_in_exception"),
        REGISTRY.get_sample_value("distsync_order_status_oldest_exception_seconds"),
    )


async def test_orders_in_exception_and_the_oldest_ones_age_are_refreshed_from_the_database() -> (
    None
):
    now = datetime.now(UTC)
    hours = (now - timedelta(hours=5), now - timedelta(hours=26), now - timedelta(minutes=3))
    count, oldest = await _refresh(OrdersInException(*hours))
    assert count == 3
    assert oldest is not None and 26 * 3600 <= oldest < 26 * 3600 + 60


async def test_no_order_in_exception_reads_zero_and_a_future_event_time_never_negative() -> None:
    assert await _refresh(OrdersInException()) == (0, 0)
    future = datetime.now(UTC) + timedelta(minutes=5)  # a source clock ahead of ours
    assert await _refresh(OrdersInException(future)) == (1, 0)


def test_every_route_preloads_what_its_handler_reads() -> None:
    assert all(r.preload is not None for r in SERVICE.routes)
    route = SERVICE.route_for("shipment.tracking_updated")
    assert route is not None and route.preload is not None
    data = route.model.model_validate(
        {"carrier": "ups", "tracking_number": "1Z", "milestone": "delivered", "native_code": "D"}
    )
    assert set(route.preload(data)) == {
        ("order_refs", "tracking:1Z"),
        ("pending_tracking", "tracking:1Z"),
    }
