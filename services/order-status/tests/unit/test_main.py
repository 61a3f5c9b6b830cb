"""How order-status declares itself to the runtime: routes, bindings, publications, tasks."""

from __future__ import annotations

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


class CountingOrders:
    async def count_documents(self, flt: dict[str, Any]) -> int:
        assert flt == {"status": "exception"}
        return 3


async def _in_tx(fn: Any) -> None:
    raise AssertionError("the gauge refresh writes nothing")


async def test_orders_in_exception_gauge_is_refreshed_from_the_database() -> None:
    ctx = TaskContext(
        service="order-status",
        db={"orders": CountingOrders()},
        settings=OrderStatusSettings(),
        run_in_transaction=_in_tx,
    )
    await refresh_exception_gauge(ctx)
    assert REGISTRY.get_sample_value("distsync_order_status_orders_in_exception") == 3


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
