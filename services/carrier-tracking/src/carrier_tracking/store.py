"""The `shipments` collection: one document per tracking number, with its scans and shipment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from carrier_tracking.domain.tracking import Registration, Scan, Tracking, current_status
from shared.uow import UnitOfWork

SHIPMENTS = "shipments"


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def to_doc(state: Tracking) -> dict[str, Any]:
    """Raw facts (registration, scans) plus the derived status, kept for operators' queries."""
    status = current_status(state)
    reg = state.registration
    return {
        "tracking_number": state.tracking_number,
        "carrier": state.carrier,
        "registration": reg.model_dump() if reg else None,
        "scans": [s.model_dump() for s in state.scans],
        "status": status.model_dump() if status else None,
    }


def from_doc(doc: dict[str, Any]) -> Tracking:
    reg = doc.get("registration")
    return Tracking(
        tracking_number=doc["tracking_number"],
        registration=(
            Registration.model_validate({**reg, "shipped_at": _utc(reg["shipped_at"])})
            if reg
            else None
        ),
        scans=tuple(
            Scan.model_validate({**s, "time": _utc(s["time"])}) for s in doc.get("scans", [])
        ),
    )


async def load(uow: UnitOfWork, tracking_number: str) -> Tracking:
    doc = await uow.get(SHIPMENTS, tracking_number)
    return from_doc(doc) if doc else Tracking(tracking_number=tracking_number)


def save(uow: UnitOfWork, state: Tracking) -> None:
    uow.put(SHIPMENTS, state.tracking_number, to_doc(state))


async def find(db: Any, tracking_number: str) -> Tracking | None:
    doc = await db[SHIPMENTS].find_one({"_id": tracking_number})
    return from_doc(doc) if doc else None


async def setup_store(db: Any) -> None:
    """Lookups by order and shipment, and operators' `status.milestone` queries."""
    await db[SHIPMENTS].create_index("registration.order_id", sparse=True)
    await db[SHIPMENTS].create_index("registration.shipment_id", sparse=True)
    await db[SHIPMENTS].create_index("status.milestone")
