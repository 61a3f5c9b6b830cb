"""The availability service as the runtime sees it: routes, publications, store, API."""

from __future__ import annotations

from pydantic import BaseModel

from availability import handlers as h
from availability import messages as m
from availability.api import build_router
from availability.settings import AvailabilitySettings
from availability.store import LOCATIONS, setup_store
from shared.service import Handler, Publication, Route, ServiceDefinition, service_exchange

ERP = ("erp.events",)
WMS = ("wms.events",)
RECEIPT = (service_exchange("receipt"),)
RETURNS = (service_exchange("returns"),)

# (type, payload model, handler, exchanges it arrives on): contract §2-3
_TABLE: tuple[tuple[str, type[BaseModel], Handler, tuple[str, ...]], ...] = (
    ("item.updated", m.ItemUpdated, h.handle_item_updated, ERP),
    ("order.allocated", m.OrderAllocated, h.handle_order_allocated, ERP),
    ("order.deallocated", m.OrderDeallocated, h.handle_order_deallocated, ERP),
    ("inventory.adjusted", m.InventoryAdjusted, h.handle_inventory_adjusted, WMS),
    ("inventory.counted", m.InventoryCounted, h.handle_inventory_counted, WMS),
    # also from receipt: a receipt re-checked after its PO's cancellation changes its hold
    (
        "inventory.quarantined",
        m.InventoryQuarantined,
        h.handle_inventory_quarantined,
        WMS + RECEIPT,
    ),
    ("inventory.released", m.InventoryReleased, h.handle_inventory_released, WMS + RECEIPT),
    ("shipment.shipped", m.ShipmentShipped, h.handle_shipment_shipped, WMS),
    ("transfer.shipped", m.TransferShipped, h.handle_transfer_shipped, WMS),
    ("transfer.received", m.TransferReceived, h.handle_transfer_received, WMS),
    ("receipt.confirmed", m.ReceiptConfirmed, h.handle_receipt_confirmed, RECEIPT),
    ("inbound.changed", m.InboundChanged, h.handle_inbound_changed, RECEIPT),
    ("return.stock_received", m.ReturnStockReceived, h.handle_return_stock_received, RETURNS),
    (
        "return.stock_dispositioned",
        m.ReturnStockDispositioned,
        h.handle_return_stock_dispositioned,
        RETURNS,
    ),
    ("returns.pending_changed", m.ReturnsPendingChanged, h.handle_returns_pending_changed, RETURNS),
)

ROUTES = tuple(Route(t, model, fn, ex, preload=h.preload_keys) for t, model, fn, ex in _TABLE)

PUBLISHES = (
    Publication(
        "availability.changed",
        m.AvailabilityChanged,
        "A position's numbers changed: every bucket, the derived figures, version and as_of.",
    ),
    Publication(
        "availability.variance_detected",
        m.AvailabilityVarianceDetected,
        "A cycle count differs (or not) from the on-hand expected at its time.",
    ),
)

SERVICE = ServiceDefinition(
    name="availability",
    read_scope="availability:read",
    routes=ROUTES,
    publishes=PUBLISHES,
    setup_store=setup_store,
    api=build_router,
    settings_cls=AvailabilitySettings,
    shared_reads=frozenset({LOCATIONS}),  # every event reads its location's entry
    description=(
        "One trusted stock position per SKU and location, in base units: on_hand, allocated, "
        "quarantined, in_transit, inbound, returns_pending, safety_stock, available_to_sell and "
        "available_to_promise, correct under duplicates and any arrival order."
    ),
)
