"""order-status's MongoDB collections: order documents, their conversion, indexes and reads."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from order_status.domain.order import Order
from order_status.domain.views import Fact
from shared.schema import Frozen

ORDERS = "orders"
REFS = "order_refs"  # "shipment:<id>" / "tracking:<number>" -> order_id
PENDING = "pending_tracking"  # "tracking:<number>" -> tracking updates not yet matched to an order

# What the read API never returns: the raw facts and bookkeeping.
HIDDEN = {"facts": 0, "observed": 0}


def _plain(v: Any) -> Any:
    """BSON-friendly: tuples become lists."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def _dump(model: Frozen) -> dict[str, Any]:
    out: dict[str, Any] = _plain(model.model_dump())
    return out


def fact_to_doc(f: Fact) -> dict[str, Any]:
    return _dump(f)


def fact_from_doc(d: dict[str, Any]) -> Fact:
    return Fact.model_validate(d)


def shipment_key(shipment_id: str) -> str:
    """The REFS key of a shipment id."""
    return f"shipment:{shipment_id}"


def tracking_key(tracking_number: str) -> str:
    """The REFS and PENDING key of a tracking number."""
    return f"tracking:{tracking_number}"


def parked_from_doc(doc: dict[str, Any] | None) -> tuple[Fact, ...]:
    """The updates parked in a PENDING document (none when it is absent or emptied)."""
    return tuple(fact_from_doc(f) for f in doc.get("facts", ())) if doc else ()


def parked_to_doc(parked: tuple[Fact, ...], claimed_by: str | None = None) -> dict[str, Any]:
    """`claimed_by`: the shipment event that took the parked updates (see
    handlers.handle_shipment_shipped); a value of its own, so the write is never a no-op."""
    doc: dict[str, Any] = {"facts": [fact_to_doc(f) for f in parked]}
    if claimed_by is not None:
        doc["claimed_by"] = claimed_by
    return doc


def order_to_doc(order: Order, *, updated_at: datetime) -> dict[str, Any]:
    """The stored order: the read view at the top level, the facts it was folded from below."""
    if order.view is None:
        raise ValueError("an order is stored only after it has been folded")
    view = order.view
    cur = view.current
    return {
        "order_id": order.order_id,
        "status": view.status,
        "status_at": cur.at,
        "status_source": cur.source,
        "native_status": cur.native_status,
        "reason": view.reason,
        "updated_at": updated_at,
        "channel": view.channel,
        "customer_id": view.customer_id,
        "promised_date": view.promised_date,
        "lines": [_dump(x) for x in view.lines],
        "shipments": [_dump(x) for x in view.shipments],
        "milestones": [_dump(x) for x in view.milestones],
        "timeline": [_dump(x) for x in view.timeline],
        "facts": [fact_to_doc(f) for f in order.facts],
        "observed": list(order.observed),
    }


def order_from_doc(doc: dict[str, Any]) -> Order:
    """Only what the domain needs: the facts, the last announced status, latencies measured."""
    return Order(
        order_id=doc["order_id"],
        facts=tuple(fact_from_doc(f) for f in doc.get("facts", [])),
        status=doc.get("status"),
        observed=tuple(doc.get("observed", [])),
    )


async def setup_store(db: Any) -> None:
    """Indexes for `GET /v1/orders?status=&since=` (keyset paging on updated_at, _id)."""
    await db[ORDERS].create_index([("status", 1), ("updated_at", 1), ("_id", 1)])
    await db[ORDERS].create_index([("updated_at", 1), ("_id", 1)])


async def get_order(db: Any, order_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await db[ORDERS].find_one({"_id": order_id}, HIDDEN)
    if doc is not None:
        doc.pop("_id", None)
    return doc


def encode_cursor(updated_at: datetime, order_id: str) -> str:
    raw = f"{updated_at.astimezone(UTC).isoformat()}|{order_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for a cursor this service did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, order_id = raw.split("|", 1)
        return datetime.fromisoformat(ts), order_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise ValueError("cursor is not one this API returned") from e


def list_filter(
    status: str | None, since: datetime | None, after: tuple[datetime, str] | None
) -> dict[str, Any]:
    """Orders with `status`, updated at or after `since`, strictly after the cursor position."""
    clauses: list[dict[str, Any]] = []
    if status is not None:
        clauses.append({"status": status})
    if since is not None:
        clauses.append({"updated_at": {"$gte": since}})
    if after is not None:
        ts, oid = after
        clauses.append(
            {"$or": [{"updated_at": {"$gt": ts}}, {"updated_at": ts, "_id": {"$gt": oid}}]}
        )
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


SUMMARY = {
    "order_id": 1,
    "status": 1,
    "status_at": 1,
    "reason": 1,
    "updated_at": 1,
    "channel": 1,
    "customer_id": 1,
}


async def list_orders(
    db: Any,
    *,
    status: str | None,
    since: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of order summaries in (updated_at, order_id) order, and the next page's cursor."""
    cur = (
        db[ORDERS]
        .find(list_filter(status, since, after), SUMMARY)
        .sort([("updated_at", 1), ("_id", 1)])
        .limit(limit + 1)
    )
    docs: list[dict[str, Any]] = [d async for d in cur]
    more = len(docs) > limit
    docs = docs[:limit]
    nxt = encode_cursor(docs[-1]["updated_at"], docs[-1]["_id"]) if more and docs else None
    for d in docs:
        d.pop("_id", None)
    return docs, nxt


async def count_in_exception(db: Any) -> int:
    n: int = await db[ORDERS].count_documents({"status": "exception"})
    return n


async def oldest_exception_at(db: Any) -> datetime | None:
    """When the order longest in exception entered it: `status_at` is the event time of the
    milestone that made the current status, i.e. of the report that put it in exception."""
    doc = await db[ORDERS].find_one(
        {"status": "exception"}, {"status_at": 1}, sort=[("status_at", 1)]
    )
    at = doc.get("status_at") if doc is not None else None
    return at if isinstance(at, datetime) else None
