"""The receipt service's MongoDB collections, document <-> domain conversion, API queries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from receipt.domain.inbound import Inbound
from receipt.domain.purchase_order import ExceptionRecord, Item, PurchaseOrder, Receipt
from shared.uow import UnitOfWork

PURCHASE_ORDERS = "purchase_orders"  # key po_id: lines, ASNs, receipts, held receipts
RECEIPTS = "receipts"  # key receipt_id: the idempotency record of each receipt
ITEMS = "items"  # key sku: base unit and conversions from item.updated
INBOUND = "inbound"  # key inbound.key(sku, location): open PO lines still expected
EXCEPTIONS = "receipt_exceptions"  # key ExceptionRecord.id: one document per exception

DUPLICATES_KEPT = 20
OPEN_STATUSES = ("open", "partially_received")  # as domain.is_open: released, not closed
IN_CHUNK = 1000  # PO ids per `$in` when reading the exceptions of open POs


def _bson(v: Any) -> Any:
    """Plain BSON-friendly values: tuples become lists, calendar dates ISO strings."""
    if isinstance(v, dict):
        return {k: _bson(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_bson(x) for x in v]
    if isinstance(v, date) and not isinstance(v, datetime):
        return v.isoformat()
    return v


def to_doc(model: BaseModel) -> dict[str, Any]:
    doc: dict[str, Any] = _bson(model.model_dump())
    return doc


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


def po_from_doc(doc: dict[str, Any] | None) -> PurchaseOrder | None:
    return PurchaseOrder.model_validate(_strip(doc)) if doc is not None else None


def item_from_doc(doc: dict[str, Any] | None) -> Item | None:
    return Item.model_validate(_strip(doc)) if doc is not None else None


def inbound_from_doc(doc: dict[str, Any] | None) -> Inbound | None:
    return Inbound.model_validate(_strip(doc)) if doc is not None else None


async def load_po(uow: UnitOfWork, po_id: str) -> PurchaseOrder | None:
    return po_from_doc(await uow.get(PURCHASE_ORDERS, po_id))


async def load_items(uow: UnitOfWork, skus: Iterable[str]) -> dict[str, Item]:
    """Item records for the SKUs whose quantities need a unit conversion."""
    out: dict[str, Item] = {}
    for sku in sorted(set(skus)):
        item = item_from_doc(await uow.get(ITEMS, sku))
        if item is not None:
            out[sku] = item
    return out


def receipt_doc(receipt: Receipt, event_id: str, outcome: str) -> dict[str, Any]:
    """The first message seen for a receipt_id; later ones are only recorded as duplicates."""
    return {
        "receipt_id": receipt.receipt_id,
        "po_id": receipt.po_id,
        "location": receipt.location,
        "at": receipt.at,
        "event_id": event_id,
        "outcome": outcome,
        "duplicates": [],
        "duplicate_count": 0,
    }


def with_duplicate(doc: dict[str, Any], event_id: str, seen_at: datetime) -> dict[str, Any]:
    dups = [*doc.get("duplicates", []), {"event_id": event_id, "seen_at": seen_at}]
    return {
        **_strip(doc),
        "duplicates": dups[-DUPLICATES_KEPT:],
        "duplicate_count": int(doc.get("duplicate_count", 0)) + 1,
    }


def exception_doc(exc: ExceptionRecord) -> dict[str, Any]:
    return {k: v for k, v in to_doc(exc).items() if k != "id"}


def exception_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], **_strip(doc)}


async def setup_store(db: Any) -> None:
    """Indexes for the API's queries; every handler read is by `_id`."""
    await db[EXCEPTIONS].create_index([("kind", 1), ("at", -1)], name="kind_at")
    await db[EXCEPTIONS].create_index([("at", -1)], name="at")
    await db[EXCEPTIONS].create_index([("po_id", 1), ("at", 1)], name="po_at")
    await db[RECEIPTS].create_index([("po_id", 1)], name="po")
    await db[PURCHASE_ORDERS].create_index([("status", 1)], name="status")


async def find_po(db: Any, po_id: str) -> PurchaseOrder | None:
    return po_from_doc(await db[PURCHASE_ORDERS].find_one({"_id": po_id}))


async def find_exceptions(
    db: Any,
    *,
    kind: str | None = None,
    since: datetime | None = None,
    po_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first; `since` is inclusive and compares the exception's event time."""
    flt: dict[str, Any] = {}
    if kind is not None:
        flt["kind"] = kind
    if since is not None:
        flt["at"] = {"$gte": since}
    if po_id is not None:
        flt["po_id"] = po_id
    cursor = db[EXCEPTIONS].find(flt).sort([("at", -1), ("_id", 1)]).limit(limit)
    return [exception_view(d) for d in await cursor.to_list(None)]


async def open_exception_stats(db: Any) -> dict[str, tuple[int, datetime]]:
    """(count, oldest event time) by kind over the stored exceptions of POs still open.

    Open POs are few next to every exception ever raised, so they are read first (index on
    status) and their exceptions then by PO (index po_at). A blind receipt's exceptions have
    no PO and a cancelled PO's short receipts are closed with it: neither is counted."""
    flt = {"status": {"$in": list(OPEN_STATUSES)}}
    open_ids = [d["_id"] async for d in db[PURCHASE_ORDERS].find(flt, {"_id": 1})]
    out: dict[str, tuple[int, datetime]] = {}
    for i in range(0, len(open_ids), IN_CHUNK):
        pipeline = [
            {"$match": {"po_id": {"$in": open_ids[i : i + IN_CHUNK]}}},
            {"$group": {"_id": "$kind", "n": {"$sum": 1}, "oldest": {"$min": "$at"}}},
        ]
        async for row in await db[EXCEPTIONS].aggregate(pipeline):
            n, oldest = int(row["n"]), row["oldest"]
            if row["_id"] in out:
                prev_n, prev_oldest = out[row["_id"]]
                n, oldest = n + prev_n, min(oldest, prev_oldest)
            out[row["_id"]] = (n, oldest)
    return out
