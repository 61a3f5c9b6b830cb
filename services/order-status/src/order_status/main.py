"""order-status: one canonical order lifecycle across ERP, WMS, TMS, commerce and carriers."""

from __future__ import annotations

from datetime import UTC, datetime

from order_status import handlers as h
from order_status import messages as m
from order_status import metrics, store
from order_status.api import build_router
from order_status.settings import OrderStatusSettings
from shared.service import (
    PeriodicTask,
    Publication,
    Route,
    ServiceDefinition,
    TaskContext,
    service_exchange,
)

ERP = ("erp.events",)
WMS = ("wms.events",)
# order.status_reported comes from erp, wms, tms (carrier.events) and commerce.
ANY_SOURCE = ("erp.events", "wms.events", "carrier.events", "commerce.events")


async def refresh_exception_gauge(ctx: TaskContext) -> None:
    """Orders in exception and the oldest one's age, read where the truth is, so replicas and
    restarts agree."""
    metrics.orders_in_exception.set(await store.count_in_exception(ctx.db))
    since = await store.oldest_exception_at(ctx.db)
    age = (datetime.now(UTC) - since).total_seconds() if since is not None else 0.0
    metrics.oldest_exception.set(max(0.0, age))


SERVICE = ServiceDefinition(
    name="order-status",
    read_scope="orders:read",
    description=__doc__ or "",
    routes=(
        Route("order.created", m.OrderCreated, h.handle_order_event, ERP, h.preload_order),
        Route("order.allocated", m.OrderAllocated, h.handle_order_event, ERP, h.preload_order),
        Route(
            "order.deallocated",
            m.OrderDeallocated,
            h.handle_order_event,
            ERP,
            h.preload_order,
        ),
        Route(
            "order.backordered",
            m.OrderBackordered,
            h.handle_order_event,
            ERP,
            h.preload_order,
        ),
        Route("order.cancelled", m.OrderCancelled, h.handle_order_event, ERP, h.preload_order),
        Route(
            "order.status_reported",
            m.OrderStatusReported,
            h.handle_order_event,
            ANY_SOURCE,
            h.preload_order,
        ),
        Route("pick.completed", m.PickCompleted, h.handle_order_event, WMS, h.preload_order),
        Route("pack.completed", m.PackCompleted, h.handle_pack_completed, WMS, h.preload_pack),
        Route(
            "shipment.shipped",
            m.ShipmentShipped,
            h.handle_shipment_shipped,
            ("wms.events", "carrier.events"),
            h.preload_shipment,
        ),
        Route(
            "shipment.tracking_updated",
            m.ShipmentTrackingUpdated,
            h.handle_shipment_tracking_updated,
            (service_exchange("carrier-tracking"),),
            h.preload_tracking,
        ),
        Route(
            "return.status_changed",
            m.ReturnStatusChanged,
            h.handle_order_event,
            (service_exchange("returns"),),
            h.preload_order,
        ),
    ),
    publishes=(
        Publication(
            h.STATUS_CHANGED,
            m.OrderStatusChanged,
            "The order's enterprise status changed (contract section 6).",
        ),
    ),
    setup_store=store.setup_store,
    api=build_router,
    periodic=(PeriodicTask("orders_in_exception_gauge", 30.0, refresh_exception_gauge),),
    settings_cls=OrderStatusSettings,
)
