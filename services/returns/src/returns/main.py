"""The returns service as the shared runtime runs it (`distsync run returns`); no I/O here."""

from __future__ import annotations

from returns.api import build_router
from returns.handlers import (
    handle_return_authorized,
    handle_return_inspected,
    handle_return_received,
    preload_rma,
)
from returns.messages import (
    ReturnAuthorized,
    ReturnInspected,
    ReturnReceived,
    ReturnsPendingChanged,
    ReturnStatusChanged,
    ReturnStockDispositioned,
    ReturnStockReceived,
)
from returns.settings import ReturnsSettings
from returns.store import setup_store
from returns.sweep import TICK_S, ExpirySweep
from shared.service import PeriodicTask, Publication, Route, ServiceDefinition

SERVICE = ServiceDefinition(
    name="returns",
    read_scope="returns:read",
    description="RMA workflow from authorization to disposition; feeds returns to availability.",
    routes=(
        Route(
            "return.authorized",
            ReturnAuthorized,
            handle_return_authorized,
            ("erp.events", "commerce.events"),
            preload_rma,
        ),
        Route(
            "return.received", ReturnReceived, handle_return_received, ("wms.events",), preload_rma
        ),
        Route(
            "return.inspected",
            ReturnInspected,
            handle_return_inspected,
            ("wms.events",),
            preload_rma,
        ),
    ),
    publishes=(
        Publication("return.status_changed", ReturnStatusChanged, "The RMA reached a status."),
        Publication(
            "return.stock_received",
            ReturnStockReceived,
            "Returned units on hand, quarantined until inspected.",
        ),
        Publication(
            "return.stock_dispositioned",
            ReturnStockDispositioned,
            "Inspected units: restock, refurbish, scrap or return_to_vendor.",
        ),
        Publication(
            "returns.pending_changed",
            ReturnsPendingChanged,
            "Absolute authorized-not-yet-received units per SKU and location over open RMAs.",
        ),
    ),
    setup_store=setup_store,
    api=build_router,
    periodic=(PeriodicTask("returns-expiry-sweep", TICK_S, ExpirySweep()),),
    settings_cls=ReturnsSettings,
)
