"""order-status: one canonical order lifecycle across ERP, WMS, TMS, commerce and carriers."""

from __future__ import annotations

from shared.service import (
    PeriodicTask,
    Publication,
    Route,
    ServiceDefinition,
    TaskContext,
    service_exchange,
)

from order_status import handlers as h
from order_status import messages as m
from order_status import metrics, store
from order_status.api import build_router
from order_status.settings import OrderStatusSettings

ERP = ("erp.events",)
WMS = ("wms.events",)
# order.status_reported comes from erp, wms, tms (carrier.events) and commerce.
ANY_SOURCE = ("erp.events", "wms.events", "carrier.events", "commerce.events")


async def refresh_exception_gauge(ctx: TaskContext) -> None:
    """Orders in exception, counted where the truth is, so replicas and restarts agree."""
    metrics.orders_in_exception.set(await store.count_in_exception(ctx.db))


SERVICE = ServiceDefinition(
    name="order-status",
    description=__doc__ or "",
    routes=(
        Route("order.created", m.OrderCreated, h.handle_order_created, ERP),
        Route("order.allocated", m.OrderAllocated, h.handle_order_allocated, ERP),
        Route("order.deallocated", m.OrderDeallocated, h.handle_order_deallocated, ERP),
        Route("order.backordered", m.OrderBackordered, h.handle_order_backordered, ERP),
        Route("order.cancelled", m.OrderCancelled, h.handle_order_cancelled, ERP),
        Route(
            "order.status_reported",
            m.OrderStatusReported,
            h.handle_order_status_reported,
            ANY_SOURCE,
        ),
        Route("pick.completed", m.PickCompleted, h.handle_pick_completed, WMS),
        Route("pack.completed", m.PackCompleted, h.handle_pack_completed, WMS),
        Route(
            "shipment.shipped",
            m.ShipmentShipped,
            h.handle_shipment_shipped,
            ("wms.events", "carrier.events"),
        ),
        Route(
            "shipment.tracking_updated",
            m.ShipmentTrackingUpdated,
            h.handle_shipment_tracking_updated,
            (service_exchange("carrier-tracking"),),
        ),
        Route(
            "return.status_changed",
            m.ReturnStatusChanged,
            h.handle_return_status_changed,
            (service_exchange("returns"),),
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
