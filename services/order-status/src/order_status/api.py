"""HTTP read API: one order with its lines, shipments and timeline; orders by status, paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from order_status import store
from order_status.domain.ranks import STATUSES, EnterpriseStatus
from order_status.domain.views import LineView, Milestone, ShipmentView, TimelineEntry
from shared.http import ERROR_RESPONSES, SegmentRoute, Time, problem, utc_time
from shared.service import ApiContext

MAX_LIMIT = 500
ERRORS: dict[int | str, dict[str, Any]] = {
    404: problem("No such order; `detail` says which"),
    422: problem("A parameter is invalid; `detail` says why, `errors` lists each field"),
}


class OrderSummary(BaseModel):
    order_id: str
    status: EnterpriseStatus
    status_at: datetime
    reason: str | None = None
    updated_at: datetime
    channel: str | None = None
    customer_id: str | None = None


class OrderOut(OrderSummary):
    """`timeline`: every event in event-time order, `at` = event time, `received_at` = arrival."""

    status_source: str
    native_status: str | None = None
    promised_date: str | None = None
    lines: list[LineView]
    shipments: list[ShipmentView]
    milestones: list[Milestone]
    timeline: list[TimelineEntry]


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None = None


def build_router(ctx: ApiContext) -> APIRouter:
    """Path segments are percent-decoded once: order `A/B` is `/v1/orders/A%2FB`."""
    router = APIRouter(
        prefix="/v1",
        tags=["orders"],
        route_class=SegmentRoute,
        responses=ERROR_RESPONSES,
    )

    @router.get("/orders/{order_id}", response_model=OrderOut, responses=ERRORS)
    async def get_order(order_id: str) -> dict[str, Any]:
        """One order: status, lines, shipments with tracking, milestones and full timeline."""
        doc = await store.get_order(ctx.db, order_id)
        if doc is None:
            raise HTTPException(404, detail=f"order {order_id!r} is not known to order-status")
        return doc

    @router.get("/orders", response_model=OrderPage, responses=ERRORS)
    async def list_orders(
        status: str | None = Query(
            None,
            description="an enterprise status",
            json_schema_extra={"enum": sorted(STATUSES)},
        ),
        since: Time | None = Query(None, description="updated at or after (RFC 3339)"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ) -> dict[str, Any]:
        """Orders in (updated_at, order_id) order, optionally by status and updated since."""
        if status is not None and status not in STATUSES:
            raise HTTPException(
                422, detail=f"unknown status {status!r}; expected one of {sorted(STATUSES)}"
            )
        if since is not None and since.tzinfo is None:
            raise HTTPException(422, detail="since needs a time zone, e.g. 2026-11-27T10:15:00Z")
        try:
            after = store.decode_cursor(cursor) if cursor else None
            if after is not None:
                after = (utc_time(after[0]), after[1])
        except ValueError as e:
            raise HTTPException(422, detail="cursor is not one this API returned") from e
        items, nxt = await store.list_orders(
            ctx.db, status=status, since=since, after=after, limit=limit
        )
        return {"items": items, "next_cursor": nxt}

    return router
