"""Message handlers: load the tracking document, make one domain call, save and emit."""

from __future__ import annotations

import structlog

from carrier_tracking import metrics
from carrier_tracking.domain.tracking import (
    Registration,
    Scan,
    TooManyScans,
    Tracking,
    is_new_scan,
    record_scan,
    register,
    shipped_to_delivered_seconds,
)
from carrier_tracking.messages import (
    TRACKING_UPDATED,
    ShipmentShipped,
    TrackingReported,
    TrackingUpdated,
)
from carrier_tracking.store import load, save
from shared.errors import Rejected
from shared.service import Incoming
from shared.uow import UnitOfWork

log = structlog.get_logger(__name__)


async def handle_shipment_shipped(msg: Incoming[ShipmentShipped], uow: UnitOfWork) -> None:
    d = msg.data
    before = await load(uow, d.tracking_number)
    reg = Registration(
        shipment_id=d.shipment_id,
        order_id=d.order_id,
        carrier=d.carrier,
        location=d.location,
        shipped_at=msg.time,
        event_id=msg.id,
    )
    after, updates = register(before, reg)
    _save_and_emit(uow, before, after, updates)


async def handle_tracking_reported(msg: Incoming[TrackingReported], uow: UnitOfWork) -> None:
    d = msg.data
    before = await load(uow, d.tracking_number)
    scan = Scan(
        carrier=d.carrier,
        native_code=d.native_code,
        native_type=d.native_type,
        description=d.description,
        location=d.location,
        time=msg.time,
        event_id=msg.id,
    )
    try:
        after, updates = record_scan(before, scan)
    except TooManyScans as e:
        raise Rejected(str(e)) from e
    _save_and_emit(uow, before, after, updates)
    _count_scan(uow, before, after, scan)


def _save_and_emit(
    uow: UnitOfWork, before: Tracking, after: Tracking, updates: list[TrackingUpdated]
) -> None:
    if after != before:
        save(uow, after)
    for u in updates:
        key = after.tracking_number
        uow.emit(TRACKING_UPDATED, u, key=key, time=u.at, correlationid=u.order_id)
        log.info(
            "tracking_milestone_changed",
            tracking_number=u.tracking_number,
            carrier=u.carrier,
            milestone=u.milestone,
            previous_milestone=u.previous_milestone,
            exception_reason=u.exception_reason,
            native_code=u.native_code,
        )
    seconds = shipped_to_delivered_seconds(before, after)
    if seconds is not None:
        label = metrics.carrier_label(after.carrier)
        uow.on_commit(lambda: metrics.SHIPPED_TO_DELIVERED.labels(label).observe(seconds))


def _count_scan(uow: UnitOfWork, before: Tracking, after: Tracking, scan: Scan) -> None:
    label = metrics.carrier_label(scan.carrier)
    if not is_new_scan(before, after):
        log.info("tracking_scan_duplicate", tracking_number=after.tracking_number, carrier=label)
        uow.on_commit(lambda: metrics.DUPLICATE_SCANS.labels(label).inc())
        return
    meaning = scan.meaning()
    if meaning.unmapped:
        log.warning(
            "tracking_code_unmapped",
            carrier=scan.carrier,
            native_code=scan.native_code,
            native_type=scan.native_type,
        )
        uow.on_commit(lambda: metrics.UNMAPPED_CODES.labels(label).inc())
    milestone = "unmapped" if meaning.unmapped else (meaning.milestone or "none")
    uow.on_commit(lambda: metrics.SCANS.labels(label, milestone).inc())
