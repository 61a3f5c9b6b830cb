"""The receipt service's declaration for the shared runtime; nothing runs at import."""

from __future__ import annotations

from datetime import UTC, datetime

from receipt import handlers, messages, metrics, store
from receipt.api import build_router
from receipt.settings import ReceiptSettings
from receipt.store import setup_store
from shared.service import PeriodicTask, Publication, Route, ServiceDefinition, TaskContext

ERP = "erp.events"
WMS = "wms.events"
COMMERCE = "commerce.events"  # the EDI gateway publishes ASNs here


async def refresh_open_exceptions(ctx: TaskContext) -> None:
    """Open exceptions by kind and the oldest one's age, read where the truth is, so replicas
    and restarts agree."""
    metrics.open_exceptions(await store.open_exception_stats(ctx.db), datetime.now(UTC))


SERVICE = ServiceDefinition(
    name="receipt",
    read_scope="receipts:read",
    description=(
        "Checks warehouse receipts against purchase orders and ASNs; publishes what arrived "
        "(accepted or quarantined), the exceptions, and inbound supply still expected."
    ),
    routes=(
        Route("item.updated", messages.ItemUpdated, handlers.handle_item_updated, (ERP,)),
        Route(
            "purchase_order.released",
            messages.PurchaseOrderReleased,
            handlers.handle_purchase_order_released,
            (ERP,),
        ),
        Route(
            "purchase_order.cancelled",
            messages.PurchaseOrderCancelled,
            handlers.handle_purchase_order_cancelled,
            (ERP,),
        ),
        Route("asn.received", messages.AsnReceived, handlers.handle_asn_received, (ERP, COMMERCE)),
        Route(
            "receipt.recorded", messages.ReceiptRecorded, handlers.handle_receipt_recorded, (WMS,)
        ),
    ),
    publishes=(
        Publication(
            "receipt.confirmed",
            messages.ReceiptConfirmed,
            "Per receipt and SKU/lot: units accepted and units quarantined (base units).",
        ),
        Publication(
            "receipt.exception",
            messages.ReceiptException,
            "A receipt rule was broken: over_receipt, unexpected_item, substitution, damaged, "
            "short_receipt, missing_lot.",
        ),
        Publication(
            "inbound.changed",
            messages.InboundChanged,
            "Absolute quantity still expected on open POs per SKU and location, next date.",
        ),
        Publication(
            "purchase_order.status_changed",
            messages.PurchaseOrderStatusChanged,
            "open, partially_received, received, cancelled.",
        ),
        Publication(
            "inventory.quarantined",
            messages.InventoryQuarantined,
            "Confirmed units put on hold when a PO's cancellation re-checks a later receipt.",
        ),
        Publication(
            "inventory.released",
            messages.InventoryReleased,
            "Confirmed units taken off hold when a PO's cancellation re-checks its receipts.",
        ),
    ),
    setup_store=setup_store,
    api=build_router,
    periodic=(PeriodicTask("open_exceptions_gauge", 30.0, refresh_open_exceptions),),
    settings_cls=ReceiptSettings,
)
