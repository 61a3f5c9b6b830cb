"""carrier-tracking: carrier scans and webhooks normalised into shipment milestones."""

from __future__ import annotations

from carrier_tracking.api import build_router
from carrier_tracking.handlers import handle_shipment_shipped, handle_tracking_reported
from carrier_tracking.messages import (
    SHIPMENT_SHIPPED,
    TRACKING_REPORTED,
    TRACKING_UPDATED,
    ShipmentShipped,
    TrackingReported,
    TrackingUpdated,
)
from carrier_tracking.settings import CarrierTrackingSettings
from carrier_tracking.store import setup_store
from shared.service import Publication, Route, ServiceDefinition

SERVICE = ServiceDefinition(
    extra={"sends": [("carrier.events", "tracking.reported")]},
    name="carrier-tracking",
    read_scope="shipments:read",
    description=__doc__ or "",
    routes=(
        # The WMS ships; TMS adapters publish on carrier.events (contract section 2).
        Route(
            SHIPMENT_SHIPPED,
            ShipmentShipped,
            handle_shipment_shipped,
            ("wms.events", "carrier.events"),
        ),
        Route(TRACKING_REPORTED, TrackingReported, handle_tracking_reported, ("carrier.events",)),
    ),
    publishes=(
        Publication(
            TRACKING_UPDATED,
            TrackingUpdated,
            "A shipment's milestone changed, or a new exception was raised",
        ),
    ),
    setup_store=setup_store,
    api=build_router,
    settings_cls=CarrierTrackingSettings,
)
