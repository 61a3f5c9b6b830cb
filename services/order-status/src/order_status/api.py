"""HTTP read API: one order with its lines, shipments and timeline; orders by status, paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from shared.service import ApiContext

from order_status import store
from order_status.mappings import STATUSES

MAX_LIMIT = 500


def build_router(ctx: ApiContext) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["orders"])

    @router.get("/orders/{order_id}", summary="One order: status, lines, shipments, timeline")
    async def get_order(order_id: str) -> dict[str, Any]:
        doc = await store.get_order(ctx.db, order_id)
        if doc is None:
            raise HTTPException(404, detail=f"order {order_id!r} is not known to order-status")
        return doc

    @router.get("/orders", summary="Orders by status, updated since a time, paged by cursor")
    async def list_orders(
        status: str | None = Query(None, description="an enterprise status"),
        since: datetime | None = Query(None, description="updated at or after (RFC 3339)"),
        limit: int = Query(100, ge=1, le=MAX_LIMIT),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ) -> dict[str, Any]:
        if status is not None and status not in STATUSES:
            raise HTTPException(
                422, detail=f"unknown status {status!r}; expected one of {sorted(STATUSES)}"
            )
        if since is not None and since.tzinfo is None:
            raise HTTPException(422, detail="since needs a time zone, e.g. 2026-11-27T10:15:00Z")
        try:
            after = store.decode_cursor(cursor) if cursor else None
        except ValueError as e:
            raise HTTPException(422, detail=str(e)) from e
        items, nxt = await store.list_orders(
            ctx.db, status=status, since=since, after=after, limit=limit
        )
        return {"items": items, "next_cursor": nxt}

    return router
